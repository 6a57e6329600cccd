// Overfitting and what fights it: an MLP trained on 500 Fashion-MNIST images (random_split of the
// training set, seed 0) five times, without regularisation, with an L2 penalty, with an L1
// penalty, with dropout, and with early stopping on the validation loss (which keeps the best
// weights). What it teaches: the training loss keeps falling while the validation loss turns up;
// each remedy narrows that gap; a model is chosen on validation data and the test set is read
// once at the end. Usage: overfitting [--epochs N] [--train N] [--data DIR] [--plot DIR]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "../args.hpp"
#include "xgrad/xgrad.hpp"

namespace nn = xg::nn;
namespace F = xg::nn::functional;

std::shared_ptr<nn::Sequential> make_mlp(bool dropout) {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Flatten>());
  for (int64_t in : {784, 256}) {
    net->push_back(std::make_shared<nn::Linear>(in, 256));
    net->push_back(std::make_shared<nn::ReLU>());
    if (dropout) net->push_back(std::make_shared<nn::Dropout>(0.5));
  }
  net->push_back(std::make_shared<nn::Linear>(256, 10));
  return net;
}

// Mean cross-entropy and accuracy over a dataset, in eval mode (no dropout), without recording.
std::pair<double, double> evaluate(nn::Module& model, std::shared_ptr<xg::data::Dataset> ds) {
  xg::NoGradGuard no_grad;
  model.eval();
  double loss = 0, correct = 0;
  for (const auto& b : xg::data::DataLoader(ds, {.batch_size = 1000, .shuffle = false})) {
    xg::Tensor logits = model(b.data);
    loss += F::cross_entropy(logits, b.target, {.reduction = nn::Reduction::sum}).item();
    correct += xg::sum(xg::eq(xg::argmax(logits, 1), b.target)).item();
  }
  model.train();
  return {loss / static_cast<double>(ds->size()), correct / static_cast<double>(ds->size())};
}

int main(int argc, char** argv) {
  int epochs = 40;
  int64_t n_train = 500;
  std::string data = xg::data::kFashionMnistDir, plot_dir;
  examples::Args(argc, argv,
                 "overfitting: overfitting and what L2, L1, dropout and early stopping do against it")
      .option("--epochs", epochs, "epochs per run")
      .option("--train", n_train, "training examples")
      .option("--data", data, "Fashion-MNIST directory")
      .option("--plot", plot_dir, "write CSV and plots to this directory")
      .parse();
  // A small training subset and a validation set drawn from the training images; the test set apart.
  auto all = xg::data::fashion_mnist(data, true);
  auto parts = xg::data::random_split(all, std::vector<int64_t>{n_train, 2000, all->size() - n_train - 2000},
                                      std::make_shared<xg::Generator>(0));
  auto train = parts[0], val = parts[1];
  auto test = xg::data::fashion_mnist(data, false)->head(2000);
  std::printf("%ld training and %ld validation images (random_split, seed 0), %d epochs of Adam (lr 1e-3)\n",
              static_cast<long>(train->size()), static_cast<long>(val->size()), epochs);
  std::printf("%-15s %6s %11s %9s %18s %8s %9s\n", "variant", "epochs", "train loss", "val loss",
              "best val (epoch)", "val acc", "test acc");
  std::ofstream csv;
  if (!plot_dir.empty()) {
    csv.open(plot_dir + "/overfitting.csv");
    csv << "variant,epoch,train_loss,val_loss\n";
  }
  for (std::string variant : {"none", "l2", "l1", "dropout", "early_stopping"}) {
    xg::manual_seed(0);  // the same initial weights for every variant
    auto model = make_mlp(variant == "dropout");
    xg::optim::Adam opt(model->parameters(), {.lr = 1e-3});
    nn::EarlyStopping stopper({.patience = 5});
    double train_loss = 0, val_loss = 0;
    int epoch = 1;
    for (; epoch <= epochs; ++epoch) {
      xg::data::DataLoader loader(train, {.batch_size = 50, .seed = static_cast<uint64_t>(epoch)});
      for (const auto& b : loader) {
        opt.zero_grad();
        xg::Tensor loss = F::cross_entropy((*model)(b.data), b.target);
        if (variant == "l2") loss = loss + 1e-3 * nn::l2_penalty(*model);  // weights only, not biases
        if (variant == "l1") loss = loss + 1e-5 * nn::l1_penalty(*model);
        loss.backward();
        opt.step();
      }
      train_loss = evaluate(*model, train).first;
      val_loss = evaluate(*model, val).first;
      if (csv.is_open()) csv << variant << ',' << epoch << ',' << train_loss << ',' << val_loss << '\n';
      if (stopper.step(val_loss, model.get()) && variant == "early_stopping") break;
    }
    if (variant == "early_stopping") stopper.restore_best(*model);  // the weights of the best epoch
    train_loss = evaluate(*model, train).first;
    const auto [vl, va] = evaluate(*model, val);
    const double test_acc = evaluate(*model, test).second;  // read once, after the choice
    std::printf("%-15s %6d %11.4f %9.4f %11.4f (%4ld) %8.4f %9.4f\n", variant.c_str(),
                std::min(epoch, epochs), train_loss, vl, stopper.best(),
                static_cast<long>(stopper.best_step()), va, test_acc);
  }
  if (csv.is_open() && nn::gnuplot_available()) {
    csv.close();
    const std::string gp = plot_dir + "/overfitting.gp", d = plot_dir + "/overfitting.csv";
    std::ofstream s(gp);
    s << "set terminal svg size 800,480 noenhanced font 'sans,11' background '#ffffff'\n"
      << "set output '" << plot_dir << "/overfitting.svg'\nset datafile separator ','\n"
      << "set title 'train (dashed) and validation (solid) loss, " << n_train << " training images'\n"
      << "set xlabel 'epoch'\nset ylabel 'cross-entropy'\nset logscale y\nset key outside right\n"
      << "names = 'none l2 l1 dropout early_stopping'\n"
      << "plot for [i=1:5] '" << d
      << "' using 2:(strcol(1) eq word(names,i) ? $4 : NaN) with lines lw 2 lc i "
      << "title word(names,i), \\\n  for [i=1:5] '" << d
      << "' using 2:(strcol(1) eq word(names,i) ? $3 : NaN) with lines lw 1 dt 2 lc i notitle\n";
    s.close();
    if (std::system(("gnuplot '" + gp + "'").c_str()) == 0)
      std::printf("plot: %s/overfitting.svg\n", plot_dir.c_str());
    std::remove(gp.c_str());
  }
  return 0;
}
