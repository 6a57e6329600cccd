// explain_html (autograd/tools/explain_html.cpp): the page holds the graph as inline SVG, the data
// as JSON with the engine's numbers, the script and style, and nothing from the network; its
// errors. What a browser shows of it is tested in tests/browser (headless chromium).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/autograd/tools/inspect.hpp"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string temp_dir() {
  char t[] = "/tmp/xgrad-test-explain-XXXXXX";
  REQUIRE(::mkdtemp(t) != nullptr);
  return t;
}

nlohmann::json page_data(const std::string& page) {
  const std::string open = "<script type=\"application/json\" id=\"xg-data\">";
  const std::size_t a = page.find(open), b = page.find("</script>", a);
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  return nlohmann::json::parse(page.substr(a + open.size(), b - a - open.size()));
}

bool have_dot() {
  return std::system("command -v dot >/dev/null 2>&1") == 0;
}

}  // namespace

TEST_CASE("explain_html: one neuron's page, its data the engine's") {
  if (!have_dot()) {
    MESSAGE("graphviz's dot is not installed: skipped");
    return;
  }
  const std::string dir = temp_dir();
  xg::InspectGuard inspect;
  const xg::TensorOptions param{.dtype = xg::Dtype::float64, .requires_grad = true};
  xg::Tensor w = xg::tensor({0.8}, param).name("w"), b = xg::tensor({-0.5}, param).name("b");
  xg::Tensor x = xg::tensor({1.5}, {.dtype = xg::Dtype::float64}).name("x");
  xg::Tensor y = xg::sigmoid(((w * x).name("wx") + b).name("z")).name("y");
  xg::Tensor L = xg::pow((y - 1.0).name("e"), 2.0).name("L");
  const xg::HtmlResult r = xg::explain_html(L, dir + "/p.html");
  CHECK(r.forward_steps == 5);
  CHECK(r.graphviz);
  REQUIRE(r.trace.steps.size() == 5);
  const std::string page = slurp(dir + "/p.html");
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(page.find("<svg") != std::string::npos);
  CHECK(page.find("<title>op3</title>") != std::string::npos);    // graphviz names nodes by their DOT id
  CHECK(page.find("http://") == page.find("http://www.w3.org"));  // only the SVG's namespace URLs
  CHECK(page.find("<script src") == std::string::npos);
  CHECK(page.find("<link") == std::string::npos);
  const nlohmann::json d = page_data(page);
  CHECK(d["title"] == "backprop of L");
  REQUIRE(d["forward"].size() == 5);
  CHECK(d["forward"][2]["op"] == "sigmoid");
  CHECK(d["forward"][2]["formula"] == "d/dx sigmoid(x) = sigmoid(x) (1 - sigmoid(x))");
  CHECK(d["forward"][0]["inputs"][0]["id"] == "v1");  // w, the first leaf
  REQUIRE(d["backward"].size() == 5);
  // dL/dw = 2 (y - 1) y (1 - y) x with y = sigmoid(0.7): the last step, mul, sends it to w.
  const double yv = 1.0 / (1.0 + std::exp(-0.7)), dz = 2.0 * (yv - 1.0) * yv * (1.0 - yv);
  const nlohmann::json& mul = d["backward"][4];
  CHECK(mul["op"] == "mul");
  CHECK(mul["node"] == "op1");
  CHECK(mul["upstream"]["tensor"]["values"][0].get<double>() == doctest::Approx(dz).epsilon(1e-15));
  CHECK(mul["inputs"][0]["grad"]["values"][0].get<double>() == doctest::Approx(dz * 1.5).epsilon(1e-15));
  CHECK(mul["inputs"][0]["local"]["values"][0].get<double>() == 1.5);  // d(w x)/dw = x
  CHECK(mul["inputs"][0]["expr"] == "dL/dwx * x");
  CHECK(mul["inputs"][1]["grad"].is_null());  // x does not require grad
  // the sigmoid step's local derivative y (1 - y), and the leaves accumulated by then: none
  const nlohmann::json& sig = d["backward"][2];
  CHECK(sig["op"] == "sigmoid");
  CHECK(sig["inputs"][0]["local"]["values"][0].get<double>() ==
        doctest::Approx(yv * (1 - yv)).epsilon(1e-15));
  CHECK(sig["leaves"].empty());
  // add (step 2) sent b its gradient; after mul, w has one too
  CHECK(d["backward"][3]["leaves"].size() == 1);
  CHECK(d["backward"][3]["leaves"][0]["label"] == "b");
  REQUIRE(mul["leaves"].size() == 2);
  CHECK(mul["leaves"][1]["label"] == "w");
  CHECK(mul["leaves"][1]["total"]["values"][0].get<double>() == w.grad().item());
  CHECK(d["leaf_grads"].size() == 2);
  CHECK(w.grad().item() == doctest::Approx(dz * 1.5).epsilon(1e-15));  // .grad as from L.backward()
  std::remove((dir + "/p.html").c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("explain_html: large tensors are summarised, small ones kept whole") {
  if (!have_dot()) return;
  const std::string dir = temp_dir();
  xg::InspectGuard inspect;
  xg::Tensor E = xg::arange(0.0, 5000.0, 1.0, {.dtype = xg::Dtype::float64}).reshape({50, 100});
  E.requires_grad_();
  xg::Tensor L = xg::sum(E * 2.0);
  xg::explain_html(L, dir + "/p.html", {.max_table = 4, .max_heatmap = 10});
  const nlohmann::json d = page_data(slurp(dir + "/p.html"));
  const nlohmann::json& t = d["forward"][0]["inputs"][0]["tensor"];
  CHECK(t["shape"] == nlohmann::json::array({50, 100}));
  CHECK(t["numel"] == 5000);
  CHECK(!t.contains("values"));
  CHECK(t["min"] == 0.0);
  CHECK(t["max"] == 4999.0);
  CHECK(t["mean"] == 2499.5);
  CHECK(d["backward"][0]["upstream"]["tensor"]["values"][0] == 1.0);  // dL/dL, one element
  std::remove((dir + "/p.html").c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("explain_html: the calls, with their sums, and which are collapsed at first") {
  const std::string dir = temp_dir();
  xg::InspectGuard inspect;
  const xg::TensorOptions p{.dtype = xg::Dtype::float64, .requires_grad = true};
  const xg::Tensor x = xg::tensor({1.0, -2.0, 3.0, 0.5}, {4}, p).name("x");
  const xg::Tensor L = (xg::mean(x * x) + xg::mean(x)).name("L");  // mean(x) may run first
  xg::explain_html(L, dir + "/p.html", {.collapse_composites = true});
  const nlohmann::json d = page_data(slurp(dir + "/p.html"));
  REQUIRE(d["groups"].size() == 2);
  double sent = 0;
  for (const nlohmann::json& g : d["groups"]) {
    CHECK(g["path"] == "mean");
    CHECK(g["composite"] == true);
    CHECK(g["collapsed"] == true);
    CHECK(g["last"].get<int>() == g["first"].get<int>() + 1);  // sum, mul
    REQUIRE(g["upstream"].size() == 1);
    CHECK(g["upstream"][0]["tensor"]["values"][0] == 1.0);  // dL/d(mean) of a sum
    REQUIRE(g["sent"].size() == 1);
    sent += g["sent"][0]["grad"]["values"][0].get<double>();
  }
  // each call sends 1/4 per element to its input (x * x's output; x), summed over its two steps
  CHECK(sent == doctest::Approx(0.25 + 0.25));
  xg::explain_html((xg::mean(x) * 1.0).name("M"), dir + "/q.html");
  const nlohmann::json q = page_data(slurp(dir + "/q.html"));
  REQUIRE(q["groups"].size() == 1);
  CHECK(q["groups"][0]["collapsed"] == false);  // by default every call is expanded
  std::remove((dir + "/p.html").c_str());
  std::remove((dir + "/q.html").c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("explain_html: errors") {
  CHECK_ERROR(xg::explain_html(xg::Tensor(), "/tmp/x.html"), xg::ValueError, "explain_html", "undefined");
  CHECK_ERROR(xg::explain_html(xg::ones({2}), "/tmp/x.html"), xg::ValueError, "explain_html",
              "does not require grad");
  xg::Tensor w = xg::ones({2}, {.requires_grad = true});
  SUBCASE("no dot on the PATH: a layout of its own, with graphviz's structure") {
    const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
    const std::string dir = temp_dir();
    ::setenv("PATH", "/nonexistent", 1);
    xg::HtmlResult r = xg::explain_html(xg::sum((w * w).name("sq")).name("L"), dir + "/p.html");
    ::setenv("PATH", saved.c_str(), 1);
    CHECK(!r.graphviz);
    const std::string page = slurp(dir + "/p.html");
    CHECK(page.find("laid out without graphviz") != std::string::npos);
    CHECK(page.find("<g class=\"node\"><title>op1</title><ellipse") != std::string::npos);
    CHECK(page.find("<title>op2</title>") != std::string::npos);
    CHECK(page.find("<text text-anchor=\"middle\" x=\"75\" y=\"39.5\">leaf1</text>") != std::string::npos);
    CHECK(page.find(">t1</text>") != std::string::npos);  // (named "sq" without InspectGuard: t1)
    CHECK(page_data(page)["backward"].size() == 2);
    std::remove((dir + "/p.html").c_str());
    ::rmdir(dir.c_str());
  }
  SUBCASE("a page that cannot be written") {
    if (!have_dot()) return;
    CHECK_ERROR(xg::explain_html(xg::sum(w * w), "/nonexistent/dir/p.html"), xg::IOError, "explain_html",
                "/nonexistent/dir/p.html");
    CHECK(!w.grad().defined());  // nothing ran: the page is opened before the backward pass
  }
}
