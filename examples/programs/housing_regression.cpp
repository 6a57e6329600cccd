// Regression on real tabular data: the classic 13-10-1 ReLU MLP with a mean-squared-error loss on
// the Boston housing prices (the CSV that Debian's python3-sklearn ships), or on sklearn's
// diabetes data with --data diabetes. What it teaches: reading a CSV with a header and a target
// column, a seeded train/test split, standardising with the training split's statistics only (the
// test split must not leak into them), mini-batch training, and judging a regressor by its test
// MSE against the baseline of predicting the mean. Writes the predicted-vs-true scatter plot
// (CSV, and PNG through gnuplot). See examples/programs/README.md for the data sets' caveats.
// Usage: housing_regression [--data boston|diabetes] [--dir DIR] [--epochs E] [--split-seed S]
//                           [--seed S] [--out DIR]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "../args.hpp"
#include "xgrad/xgrad.hpp"

namespace {

// in -> 10 -> 1 with ReLU: 13-10-1 for the 13 Boston features.
struct Mlp : xg::nn::Module {
  std::shared_ptr<xg::nn::Linear> fc1, fc2;
  explicit Mlp(int64_t in) : Module("Mlp") {
    fc1 = register_module("fc1", std::make_shared<xg::nn::Linear>(in, 10));
    fc2 = register_module("fc2", std::make_shared<xg::nn::Linear>(10, 1));
  }
  xg::Tensor forward(const xg::Tensor& x) override { return fc2->forward(xg::relu(fc1->forward(x))); }
};

// The rows of t at positions [from, to) of the permutation `order`.
xg::Tensor rows(const xg::Tensor& t, const std::vector<int64_t>& order, std::size_t from, std::size_t to) {
  std::vector<int64_t> pick(order.begin() + static_cast<std::ptrdiff_t>(from),
                            order.begin() + static_cast<std::ptrdiff_t>(to));
  return xg::index_select(t, 0, xg::from_vector(pick, {static_cast<int64_t>(pick.size())}));
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "boston", dir = "/usr/lib/python3/dist-packages/sklearn/datasets/data",
              out = "runs/housing_regression";
  int epochs = 200;
  uint64_t split_seed = 0, seed = 0;
  examples::Args(argc, argv,
                 "housing_regression: 13-10-1 ReLU MLP regression on sklearn housing/diabetes CSV data")
      .option("--data", data, "boston or diabetes")
      .option("--dir", dir, "directory of the CSV files")
      .option("--epochs", epochs, "training epochs")
      .option("--split-seed", split_seed, "seed of the train/test split")
      .option("--seed", seed, "seed of initialisation and shuffling")
      .option("--out", out, "directory for the scatter plot")
      .parse();
  xg::Tensor x, y;
  try {
    if (data == "boston") {
      // The first line holds the counts (506,13), the second the names; MEDV is the target,
      // the median home value in $1000s.
      auto t = xg::data::read_csv(dir + "/boston_house_prices.csv",
                                  {.skip_rows = 1, .target = "MEDV", .dtype = xg::Dtype::float32});
      x = t.data, y = t.target;
    } else if (data == "diabetes") {
      // Ten space-separated columns without a header; the target (disease progression after a
      // year) in a file of its own.
      const xg::data::CsvOptions o{.delimiter = ' ', .header = false, .dtype = xg::Dtype::float32};
      x = xg::data::read_csv(dir + "/diabetes_data_raw.csv.gz", o).data;
      y = xg::reshape(xg::data::read_csv(dir + "/diabetes_target.csv.gz", o).data, {-1});
      if (y.size(0) != x.size(0)) throw xg::ValueError("diabetes: the data and target files differ in rows");
    } else {
      std::fprintf(stderr, "housing_regression: --data must be boston or diabetes, not '%s'\n", data.c_str());
      return 2;
    }
  } catch (const xg::Error& e) {
    std::fprintf(
        stderr,
        "housing_regression: %s\n(the data comes with Debian's python3-sklearn: bash scripts/setup.sh)\n",
        e.what());
    return 1;
  }
  y = xg::reshape(y, {-1, 1});
  const int64_t n = x.size(0), features = x.size(1);

  // 80 % train, 20 % test, from a permutation drawn from the split seed alone.
  const std::vector<int64_t> order = xg::data::seeded_permutation(n, split_seed, 0);
  const auto n_train = static_cast<std::size_t>(n * 4 / 5);
  xg::Tensor x_train = rows(x, order, 0, n_train), y_train = rows(y, order, 0, n_train);
  xg::Tensor x_test = rows(x, order, n_train, order.size()), y_test = rows(y, order, n_train, order.size());

  // Standardise features and target with the training split's mean and (population) std.
  const xg::Tensor mu = xg::mean(x_train, {0}), sd = xg::std(x_train, {0}, 0) + 1e-8;
  const double y_mu = xg::mean(y_train).item(), y_sd = xg::std(y_train, {}, 0).item();
  x_train = (x_train - mu) / sd, x_test = (x_test - mu) / sd;
  const xg::Tensor z_train = (y_train - y_mu) / y_sd;

  xg::manual_seed(seed);  // the initial weights
  Mlp model(features);
  xg::optim::Adam opt(model.parameters(), {.lr = 1e-2});
  auto train = std::make_shared<xg::data::TensorDataset>(x_train, z_train);
  xg::data::DataLoader loader(train, {.batch_size = 32, .shuffle = true, .seed = seed});
  for (int epoch = 0; epoch < epochs; ++epoch) {
    loader.set_epoch(epoch);
    double total = 0;
    for (const auto& b : loader) {
      opt.zero_grad();
      xg::Tensor loss = xg::nn::functional::mse_loss(model.forward(b.data), b.target);
      loss.backward();
      opt.step();
      total += loss.item() * static_cast<double>(b.data.size(0));
    }
    if (epoch % (epochs / 5 > 0 ? epochs / 5 : 1) == 0 || epoch == epochs - 1)
      std::printf("epoch %3d  train loss %.4f (standardised units)\n", epoch,
                  total / static_cast<double>(n_train));
  }

  // Test MSE in the target's own units, against predicting the training mean.
  xg::NoGradGuard no_grad;
  const xg::Tensor pred = model.forward(x_test) * y_sd + y_mu;
  const double mse = xg::mean(xg::pow(pred - y_test, 2.0)).item();
  const double baseline = xg::mean(xg::pow(y_test - y_mu, 2.0)).item();
  std::printf("%s: %lld train / %lld test examples, %lld features, %d epochs\n", data.c_str(),
              static_cast<long long>(n_train), static_cast<long long>(x_test.size(0)),
              static_cast<long long>(features), epochs);
  std::printf("test MSE %.3f (RMSE %.3f); predicting the training mean: MSE %.3f\n", mse, std::sqrt(mse),
              baseline);
  std::printf("seeds: split %llu, init and shuffle %llu\n", static_cast<unsigned long long>(split_seed),
              static_cast<unsigned long long>(seed));

  // The scatter plot: predicted against true, with the line y = x.
  std::filesystem::create_directories(out);
  const std::string csv = out + "/" + data + "_test.csv", png = out + "/" + data + "_test.png";
  {
    std::ofstream f(csv);
    f << "true,predicted\n";
    const auto t = y_test.to_vector<float>(), p = pred.to_vector<float>();
    for (std::size_t i = 0; i < t.size(); ++i) f << t[i] << ',' << p[i] << '\n';
  }
  std::printf("predictions: %s\n", csv.c_str());
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    const std::string script = png + ".gp";
    char title[128];
    std::snprintf(title, sizeof title, "%s: test MSE %.2f (split seed %llu)", data.c_str(), mse,
                  static_cast<unsigned long long>(split_seed));
    std::ofstream(script) << "set terminal pngcairo size 600,600\nset output '" << png
                          << "'\nset datafile separator ','\nset title '" << title
                          << "'\nset xlabel 'true'\nset ylabel 'predicted'\nset size square\n"
                          << "set key top left\nplot '" << csv
                          << "' every ::1 using 1:2 with points pt 7 ps 0.6 "
                          << "title 'test examples', x with lines dt 2 title 'predicted = true'\n";
    if (std::system(("gnuplot '" + script + "' >/dev/null 2>&1").c_str()) == 0)
      std::printf("scatter plot: %s\n", png.c_str());
    std::filesystem::remove(script);
  }
  return 0;
}
