// TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder and
// Transformer: PyTorch's sub-module and parameter names, state_dict keys and repr; forward values
// and gradients against PyTorch 1.13 (numbers below computed with torch in float64 on weights and
// inputs filled by the same formula as fill() here); masks (a padded or future position changes no
// other output and receives no gradient from them); deep copies; dropout from the options'
// generator; errors; float64 gradchecks with respect to the inputs and every parameter.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/model_check.hpp"
#include "xgrad/nn/transformer.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;
using Vec = std::vector<double>;
namespace nn = xg::nn;
using nn::MaskKind;
using xg_test::check_values;
using xg_test::names_of;

const xg::TensorOptions f64{.dtype = Dtype::float64};
constexpr double inf = std::numeric_limits<double>::infinity();

// Parameter k (in named_parameters order), element j: 0.5 sin(1 + 0.37 j + 0.71 k); the Python side
// of the reference numbers fills PyTorch's module the same way.
void fill(nn::Module& m) {
  m.to(Dtype::float64);
  xg::NoGradGuard g;
  int k = 0;
  for (auto& [name, p] : m.named_parameters()) {
    Vec v(static_cast<std::size_t>(p.numel()));
    for (std::size_t j = 0; j < v.size(); ++j) v[j] = 0.5 * std::sin(1.0 + 0.37 * double(j) + 0.71 * k);
    p.copy_(xg::tensor(v, p.shape(), f64));
    ++k;
  }
}
// Input t: element j is scale sin(0.3 + 0.9 j + 1.7 t), requiring grad.
Tensor input(const xg::Shape& s, int t, double scale = 1.0) {
  Vec v(static_cast<std::size_t>(s.numel()));
  for (std::size_t j = 0; j < v.size(); ++j) v[j] = scale * std::sin(0.3 + 0.9 * double(j) + 1.7 * t);
  return xg::tensor(v, s, {.dtype = Dtype::float64, .requires_grad = true});
}
nn::TransformerLayerOptions small(nn::TransformerLayerOptions o = {}) {
  o.dim_feedforward = 6;
  o.dropout = 0;
  return o;
}
std::vector<std::string> child_names(const nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [n, c] : m.named_children()) out.push_back(n);
  return out;
}
std::vector<Tensor> with_parameters(std::vector<Tensor> inputs, const nn::Module& m) {
  for (const Tensor& p : m.parameters()) inputs.push_back(p);
  return inputs;
}
// Batch element b, position i of a seq-first [L, N, E] tensor.
Vec row(const Tensor& t, int64_t i, int64_t b) {
  return xg::slice(xg::slice(t, 0, i, i + 1), 1, b, b + 1).to_vector<double>();
}

}  // namespace

TEST_CASE("Transformer layers: PyTorch's names, state_dict keys and repr") {
  nn::TransformerEncoderLayer enc(4, 2, {.dim_feedforward = 8});
  CHECK(names_of(enc.named_parameters()) ==
        std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias",
                                 "self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear1.weight",
                                 "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight",
                                 "norm1.bias", "norm2.weight", "norm2.bias"});
  CHECK(enc.linear1->weight.shape() == xg::Shape{8, 4});
  CHECK(enc.linear2->weight.shape() == xg::Shape{4, 8});
  CHECK(enc.repr() ==
        "TransformerEncoderLayer(\n"
        "  (self_attn): MultiheadAttention(embed_dim=4, num_heads=2, dropout=0.1\n"
        "    (out_proj): NonDynamicallyQuantizableLinear(in_features=4, out_features=4, bias=true)\n"
        "  )\n"
        "  (linear1): Linear(in_features=4, out_features=8, bias=true)\n"
        "  (dropout): Dropout(p=0.1)\n"
        "  (linear2): Linear(in_features=8, out_features=4, bias=true)\n"
        "  (norm1): LayerNorm((4,), eps=1e-05, elementwise_affine=true)\n"
        "  (norm2): LayerNorm((4,), eps=1e-05, elementwise_affine=true)\n"
        "  (dropout1): Dropout(p=0.1)\n"
        "  (dropout2): Dropout(p=0.1)\n"
        ")");
  nn::TransformerDecoderLayer dec(4, 2, {.dim_feedforward = 8});
  std::vector<std::string> dec_names;
  for (const std::string& n : names_of(dec.named_parameters()))
    if (n.find("attn") == std::string::npos) dec_names.push_back(n);
  CHECK(dec_names == std::vector<std::string>{"linear1.weight", "linear1.bias", "linear2.weight",
                                              "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight",
                                              "norm2.bias", "norm3.weight", "norm3.bias"});
  CHECK(child_names(dec) == std::vector<std::string>{"self_attn", "multihead_attn", "linear1", "dropout",
                                                     "linear2", "norm1", "norm2", "norm3", "dropout1",
                                                     "dropout2", "dropout3"});

  // nn.Transformer(4, 2, 1, 1, 6): PyTorch's state_dict keys, in its order
  nn::Transformer t(
      {.d_model = 4, .nhead = 2, .num_encoder_layers = 1, .num_decoder_layers = 1, .dim_feedforward = 6});
  const std::vector<std::string> torch_keys{"encoder.layers.0.self_attn.in_proj_weight",
                                            "encoder.layers.0.self_attn.in_proj_bias",
                                            "encoder.layers.0.self_attn.out_proj.weight",
                                            "encoder.layers.0.self_attn.out_proj.bias",
                                            "encoder.layers.0.linear1.weight",
                                            "encoder.layers.0.linear1.bias",
                                            "encoder.layers.0.linear2.weight",
                                            "encoder.layers.0.linear2.bias",
                                            "encoder.layers.0.norm1.weight",
                                            "encoder.layers.0.norm1.bias",
                                            "encoder.layers.0.norm2.weight",
                                            "encoder.layers.0.norm2.bias",
                                            "encoder.norm.weight",
                                            "encoder.norm.bias",
                                            "decoder.layers.0.self_attn.in_proj_weight",
                                            "decoder.layers.0.self_attn.in_proj_bias",
                                            "decoder.layers.0.self_attn.out_proj.weight",
                                            "decoder.layers.0.self_attn.out_proj.bias",
                                            "decoder.layers.0.multihead_attn.in_proj_weight",
                                            "decoder.layers.0.multihead_attn.in_proj_bias",
                                            "decoder.layers.0.multihead_attn.out_proj.weight",
                                            "decoder.layers.0.multihead_attn.out_proj.bias",
                                            "decoder.layers.0.linear1.weight",
                                            "decoder.layers.0.linear1.bias",
                                            "decoder.layers.0.linear2.weight",
                                            "decoder.layers.0.linear2.bias",
                                            "decoder.layers.0.norm1.weight",
                                            "decoder.layers.0.norm1.bias",
                                            "decoder.layers.0.norm2.weight",
                                            "decoder.layers.0.norm2.bias",
                                            "decoder.layers.0.norm3.weight",
                                            "decoder.layers.0.norm3.bias",
                                            "decoder.norm.weight",
                                            "decoder.norm.bias"};
  CHECK(names_of(t.state_dict()) == torch_keys);
  // _reset_parameters: matrices xavier uniform (bound sqrt(6 / (fan_in + fan_out))), vectors as built
  const double bound = std::sqrt(6.0 / (4 + 6));
  for (double w : t.encoder->layers->at<nn::TransformerEncoderLayer>(0)->linear1->weight.to_vector<double>())
    CHECK(std::abs(w) <= bound);
  CHECK(t.decoder->layers->at<nn::TransformerDecoderLayer>(0)->self_attn->in_proj_bias.to_vector<double>() ==
        Vec(12, 0.0));

  Tensor mask = nn::generate_square_subsequent_mask(3);
  CHECK(mask.dtype() == Dtype::float32);
  CHECK(mask.to_vector<double>() == Vec{0, -inf, -inf, 0, 0, -inf, 0, 0, 0});
  CHECK(nn::Transformer::generate_square_subsequent_mask(2, Dtype::float64).to_vector<double>() ==
        Vec{0, -inf, 0, 0});
}

TEST_CASE("Transformer layers equal PyTorch 1.13's numbers") {
  SUBCASE("TransformerEncoderLayer post-norm relu, causal src_mask") {
    nn::TransformerEncoderLayer m(4, 2, small());
    fill(m);
    Tensor y =
        m.forward(input({3, 2, 4}, 0), {.src_mask = nn::generate_square_subsequent_mask(3, Dtype::float64)});
    check_values(y,
                 Vec{0.10581382384733456,  0.78209476249170817, -0.10127041076132856, -0.35509102533678555,
                     -0.54787186315951275, 0.40172466178538901, 0.1051870217687786,   -0.19183182817353001,
                     0.26497376786880322,  0.7672505097221155,  -0.16508748122188324, -0.36155016996056916,
                     -0.54853124471868098, 0.3807352006352398,  0.058309711994953918, -0.16810681147102355,
                     0.38848536712448511,  0.74507651545517561, -0.23600809684639346, -0.35551902771832167,
                     -0.42648458090279923, 0.63020014344213915, 0.065481872137180222, -0.26283813292246089},
                 1e-12);
  }
  SUBCASE("TransformerDecoderLayer pre-norm gelu batch_first, bool memory padding") {
    nn::TransformerDecoderLayer m(4, 2,
                                  small({.activation = "gelu", .batch_first = true, .norm_first = true}));
    fill(m);
    Tensor y = m.forward(input({2, 2, 4}, 0), input({2, 3, 4}, 1),
                         {.memory_key_padding_mask = xg::tensor({0, 1, 0, 0, 0, 0}, {2, 3}),
                          .key_padding_mask_kind = MaskKind::drop});
    check_values(y,
                 Vec{-0.37847859605274281, 0.7992541899226876, 2.9444391845357778, -0.60291342615316268,
                     -1.3008609262562474, -1.2449824595331398, 1.6093972234960221, -0.42906140915132418,
                     0.6832757242476506, 0.80627087114884743, 1.5991385154615272, -1.4820386500487015,
                     -1.045929440269058, -0.81707020524425866, 1.9370432844192047, 0.12146993390892757},
                 1e-12);
  }
  SUBCASE("Transformer 1+1 layers, causal tgt_mask: output and a bias gradient") {
    nn::Transformer m({.d_model = 4,
                       .nhead = 2,
                       .num_encoder_layers = 1,
                       .num_decoder_layers = 1,
                       .dim_feedforward = 6,
                       .dropout = 0});
    fill(m);
    Tensor y = m.forward(input({3, 1, 4}, 0), input({2, 1, 4}, 1),
                         {.tgt_mask = nn::Transformer::generate_square_subsequent_mask(2, Dtype::float64)});
    check_values(y,
                 Vec{-0.39188292976957068, 0.52823619071108951, -0.07922151210350209, 0.026919617106398099,
                     -1.0301188411906701, 0.42960959068009458, 0.083054939934061836, 0.17600355769657314},
                 1e-12);
    xg::sum(y).backward();
    check_values(m.encoder->layers->at<nn::TransformerEncoderLayer>(0)->linear1->bias.grad(),
                 Vec{0, 0, 0.014140233058097751, 0.024198839750920745, 0, 0}, 1e-10);
  }
}

TEST_CASE("Transformer masks: padded and future positions change no other output, get no gradient") {
  xg::manual_seed(41);
  SUBCASE("encoder: a padded source position") {
    nn::TransformerEncoderLayer m(4, 2, small());
    m.to(Dtype::float64);
    Tensor x = xg::randn({3, 2, 4}, f64);
    const nn::TransformerEncoderArgs args{.src_key_padding_mask = xg::tensor({0, 0, 1, 0, 0, 0}, {2, 3}),
                                          .mask_kind = MaskKind::drop};
    Tensor y = m.forward(x, args);
    Tensor x2 = x.clone();
    {
      xg::NoGradGuard g;
      x2.index_put_({xg::indexing::Slice(2, 3), xg::indexing::Slice(0, 1)}, xg::randn({1, 1, 4}, f64) * 3.0);
    }
    Tensor y2 = m.forward(x2, args);
    for (int64_t i = 0; i < 2; ++i) CHECK(row(y2, i, 0) == row(y, i, 0));  // the other positions of batch 0
    for (int64_t i = 0; i < 3; ++i) CHECK(row(y2, i, 1) == row(y, i, 1));  // batch 1 untouched
    CHECK(row(y2, 2, 0) != row(y, 2, 0));  // the padded position itself still has an output
    // no gradient reaches the padded input from the other outputs
    Tensor xr = x.detach().requires_grad_(true);
    Tensor out = m.forward(xr, args);
    xg::sum(xg::square(xg::slice(out, 0, 0, 2)))
        .backward();  // (a plain sum of a LayerNorm output is constant)
    CHECK(row(xr.grad(), 2, 0) == Vec(4, 0.0));
    CHECK(xg_test::max_abs(xr.grad()) > 0);
  }
  SUBCASE("decoder: causal tgt_mask and a padded memory position") {
    nn::TransformerDecoderLayer m(4, 2, small({.norm_first = true}));
    m.to(Dtype::float64);
    Tensor tgt = xg::randn({3, 1, 4}, f64).requires_grad_(true),
           mem = xg::randn({4, 1, 4}, f64).requires_grad_(true);
    const nn::TransformerDecoderArgs args{.tgt_mask = nn::generate_square_subsequent_mask(3, Dtype::float64),
                                          .memory_key_padding_mask = xg::tensor({0, 1, 0, 0}, {1, 4}),
                                          .key_padding_mask_kind = MaskKind::drop};
    Tensor y = m.forward(tgt, mem, args);
    xg::sum(xg::slice(y, 0, 0, 2)).backward();  // positions 0 and 1 see tgt 0..1 only
    CHECK(row(tgt.grad(), 2, 0) == Vec(4, 0.0));
    CHECK(row(mem.grad(), 1, 0) == Vec(4, 0.0));  // the padded memory key
    CHECK(xg_test::max_abs(xg::slice(mem.grad(), 0, 2, 4)) > 0);
  }
}

TEST_CASE("TransformerEncoder and TransformerDecoder: deep copies of the layer, final norm, clone") {
  xg::manual_seed(42);
  auto layer = std::make_shared<nn::TransformerEncoderLayer>(4, 2, small());
  nn::TransformerEncoder enc(layer, 2, std::make_shared<nn::LayerNorm>(4));
  CHECK(enc.layers->size() == 2);
  CHECK(child_names(enc) == std::vector<std::string>{"layers", "norm"});
  auto l0 = enc.layers->at<nn::TransformerEncoderLayer>(0),
       l1 = enc.layers->at<nn::TransformerEncoderLayer>(1);
  CHECK(l0.get() != layer.get());
  CHECK(l0->linear1->weight.get() != l1->linear1->weight.get());
  CHECK(l0->linear1->weight.to_vector<double>() ==
        l1->linear1->weight.to_vector<double>());  // copies, as deepcopy
  CHECK(l0->linear1->weight.to_vector<double>() == layer->linear1->weight.to_vector<double>());
  CHECK(enc.state_dict().size() == 2 * 12 + 2);

  // the stack is the layers in turn, then the norm
  Tensor x = xg::randn({3, 2, 4});
  Tensor by_hand = (*enc.norm)(l1->forward(l0->forward(x)));
  xg_test::check_close(enc.forward(x).to_vector<double>(), by_hand.to_vector<double>(), 0);

  // clone: equal values, nothing shared, the same forward
  auto c = enc.clone_as<nn::TransformerEncoder>();
  REQUIRE(c);
  CHECK(c->repr() == enc.repr());
  CHECK(c->forward(x).to_vector<double>() == enc.forward(x).to_vector<double>());
  CHECK(c->layers->at<nn::TransformerEncoderLayer>(0)->self_attn->in_proj_weight.get() !=
        l0->self_attn->in_proj_weight.get());
  {
    xg::NoGradGuard g;
    l0->linear2->bias.add_(xg::ones({4}));
  }
  CHECK(c->forward(x).to_vector<double>() != enc.forward(x).to_vector<double>());

  auto dl = std::make_shared<nn::TransformerDecoderLayer>(4, 2, small());
  nn::TransformerDecoder dec(dl, 3);
  CHECK(dec.layers->size() == 3);
  CHECK_FALSE(dec.norm);
  CHECK(child_names(dec) == std::vector<std::string>{"layers"});
  Tensor mem = xg::randn({2, 2, 4}), tgt = xg::randn({3, 2, 4});
  auto dc = dec.clone_as<nn::TransformerDecoder>();
  CHECK(dc->forward(tgt, mem).to_vector<double>() == dec.forward(tgt, mem).to_vector<double>());

  nn::Transformer t({.d_model = 4,
                     .nhead = 2,
                     .num_encoder_layers = 2,
                     .num_decoder_layers = 1,
                     .dim_feedforward = 6,
                     .dropout = 0});
  auto tc = t.clone_as<nn::Transformer>();
  Tensor src = xg::randn({4, 2, 4});
  CHECK(tc->forward(src, tgt).to_vector<double>() == t.forward(src, tgt).to_vector<double>());
  CHECK(names_of(tc->state_dict()) == names_of(t.state_dict()));
  // _reset_parameters draws each matrix on its own: the two encoder layers differ
  CHECK(t.encoder->layers->at<nn::TransformerEncoderLayer>(0)->linear1->weight.to_vector<double>() !=
        t.encoder->layers->at<nn::TransformerEncoderLayer>(1)->linear1->weight.to_vector<double>());
}

TEST_CASE("Transformer layouts: batch_first and unbatched give the seq-first numbers") {
  xg::manual_seed(43);
  nn::TransformerDecoderLayer seq(4, 2, small({.activation = "gelu"}));
  nn::TransformerDecoderLayer bf(4, 2, small({.activation = "gelu", .batch_first = true}));
  bf.load_state_dict(seq.state_dict());
  Tensor tgt = xg::randn({3, 2, 4}), mem = xg::randn({2, 2, 4});
  Tensor y = seq.forward(tgt, mem);
  xg_test::check_close(bf.forward(xg::transpose(tgt, 0, 1), xg::transpose(mem, 0, 1)).to_vector<double>(),
                       xg::transpose(y, 0, 1).to_vector<double>(), 1e-6);
  auto first = [](const Tensor& t) { return xg::squeeze(xg::slice(t, 1, 0, 1), 1); };
  Tensor u = seq.forward(first(tgt), first(mem));
  CHECK(u.shape() == xg::Shape{3, 4});
  xg_test::check_close(u.to_vector<double>(), first(y).to_vector<double>(), 1e-6);
  // a callable activation
  nn::TransformerEncoderLayer tanh_layer(4, 2,
                                         small({.activation = [](const Tensor& x) { return xg::tanh(x); }}));
  CHECK(tanh_layer.options().activation.name == "<function>");
  CHECK(tanh_layer.forward(tgt).shape() == xg::Shape{3, 2, 4});
}

TEST_CASE("Transformer dropout draws from the options' generator, and is off in eval mode") {
  auto gen = std::make_shared<xg::Generator>(5);
  nn::TransformerEncoderLayer m(4, 2, {.dim_feedforward = 6, .dropout = 0.5, .generator = gen});
  nn::TransformerEncoderLayer plain(4, 2, small());
  plain.load_state_dict(m.state_dict());
  Tensor x = xg::randn({3, 2, 4});
  const Tensor state = gen->get_state();
  const Vec a = m.forward(x).to_vector<double>();
  xg::manual_seed(0);  // the default generator plays no part
  gen->set_state(state);
  CHECK(m.forward(x).to_vector<double>() == a);
  CHECK(m.forward(x).to_vector<double>() != a);
  CHECK(a != plain.forward(x).to_vector<double>());
  m.eval();
  CHECK(m.forward(x).to_vector<double>() == plain.forward(x).to_vector<double>());
}

TEST_CASE("Transformer errors name the module and the shapes") {
  CHECK_ERROR(nn::TransformerEncoderLayer(6, 4), xg::ValueError, "TransformerEncoderLayer:", "d_model 6",
              "nhead 4");
  CHECK_ERROR(nn::TransformerEncoderLayer(4, 2, {.activation = "tanh"}), xg::ValueError,
              "activation should be relu/gelu", "tanh");
  CHECK_ERROR(nn::TransformerDecoderLayer(4, 2, {.dropout = 1.5}), xg::ValueError,
              "TransformerDecoderLayer:", "dropout");
  auto layer = std::make_shared<nn::TransformerEncoderLayer>(4, 2, small());
  CHECK_ERROR(nn::TransformerEncoder(layer, 0), xg::ValueError,
              "TransformerEncoder:", "num_layers must be >= 1");
  CHECK_ERROR(layer->forward(xg::randn({3, 2, 5})), xg::ShapeError, "TransformerEncoderLayer:", "src",
              "[S, N, 4]", "[3, 2, 5]");
  nn::TransformerDecoderLayer dec(4, 2, small());
  CHECK_ERROR(dec.forward(xg::randn({3, 2, 4}), xg::randn({5, 3, 4})), xg::ShapeError,
              "TransformerDecoderLayer:", "batch number", "tgt [3, 2, 4]", "memory [5, 3, 4]");
  CHECK_ERROR(dec.forward(xg::randn({3, 2, 4}), xg::randn({5, 4})), xg::ShapeError,
              "TransformerDecoderLayer:", "both be batched or both unbatched");
  nn::Transformer t(
      {.d_model = 4, .nhead = 2, .num_encoder_layers = 1, .num_decoder_layers = 1, .dim_feedforward = 6});
  CHECK_ERROR(t.forward(xg::randn({3, 2, 4}), xg::randn({3, 1, 4})), xg::ShapeError,
              "Transformer:", "batch number of src [3, 2, 4] and tgt [3, 1, 4]");
  // masks: MultiheadAttention's checks, through the layer
  CHECK_ERROR(layer->forward(xg::randn({3, 2, 4}), {.src_mask = xg::zeros({3, 2})}), xg::ShapeError,
              "MultiheadAttention:", "attn_mask must be [3, 3]", "got [3, 2]");
  CHECK_ERROR(layer->forward(xg::randn({3, 2, 4}),
                             {.src_key_padding_mask = xg_test::i64({0, 0, 1, 0, 0, 0}, {2, 3})}),
              xg::TypeError, "key_padding_mask is int64 but mask_kind is MaskKind::additive");
  CHECK_ERROR(nn::generate_square_subsequent_mask(3, Dtype::int64), xg::TypeError,
              "generate_square_subsequent_mask", "float dtype");
}

TEST_CASE("gradcheck in float64: Transformer layers and the whole model w.r.t. inputs and parameters") {
  xg::manual_seed(44);
  SUBCASE("TransformerEncoderLayer post-norm, src_mask and padding") {
    nn::TransformerEncoderLayer m(4, 2, small());
    fill(m);
    const nn::TransformerEncoderArgs args{.src_mask = xg::randn({3, 3}, f64),
                                          .src_key_padding_mask = xg::tensor({0, 0, 1, 0, 0, 0}, {2, 3}),
                                          .key_padding_mask_kind = MaskKind::drop};
    std::vector<Tensor> in = with_parameters({input({3, 2, 4}, 0)}, m);
    xg::GradcheckReport r =
        xg::gradcheck([&](const std::vector<Tensor>& v) { return m.forward(v[0], args); }, in);
    CHECK_MESSAGE(r.passed, r.str());
    CHECK(r.inputs_checked == 13);
  }
  SUBCASE("TransformerEncoderLayer pre-norm gelu batch_first") {
    nn::TransformerEncoderLayer m(4, 2,
                                  small({.activation = "gelu", .batch_first = true, .norm_first = true}));
    fill(m);
    std::vector<Tensor> in = with_parameters({input({2, 3, 4}, 1)}, m);
    xg::GradcheckReport r = xg::gradcheck([&](const std::vector<Tensor>& v) { return m.forward(v[0]); }, in);
    CHECK_MESSAGE(r.passed, r.str());
  }
  SUBCASE("TransformerDecoderLayer pre-norm, causal tgt_mask, memory padding") {
    nn::TransformerDecoderLayer m(4, 2, small({.activation = "gelu", .norm_first = true}));
    fill(m);
    const nn::TransformerDecoderArgs args{.tgt_mask = nn::generate_square_subsequent_mask(2, Dtype::float64),
                                          .memory_key_padding_mask = xg::tensor({0, 1, 0, 0, 0, 0}, {2, 3}),
                                          .key_padding_mask_kind = MaskKind::drop};
    std::vector<Tensor> in = with_parameters({input({2, 2, 4}, 2), input({3, 2, 4}, 3)}, m);
    xg::GradcheckReport r =
        xg::gradcheck([&](const std::vector<Tensor>& v) { return m.forward(v[0], v[1], args); }, in);
    CHECK_MESSAGE(r.passed, r.str());
    CHECK(r.inputs_checked == 2 + 18);
  }
  SUBCASE("Transformer 1+1 layers, every parameter (fast model check) and the inputs") {
    nn::Transformer m({.d_model = 4,
                       .nhead = 2,
                       .num_encoder_layers = 1,
                       .num_decoder_layers = 1,
                       .dim_feedforward = 6,
                       .dropout = 0});
    fill(m);
    Tensor src = input({3, 2, 4}, 4), tgt = input({2, 2, 4}, 5);
    xg::GradcheckReport r = nn::gradcheck(m, {src, tgt}, [](nn::Module& mod, const std::vector<Tensor>& v) {
      Tensor y = dynamic_cast<nn::Transformer&>(mod).forward(
          v[0], v[1], {.tgt_mask = nn::generate_square_subsequent_mask(2, Dtype::float64)});
      return xg::sum(y * y);
    });
    CHECK_MESSAGE(r.passed, r.str());
  }
}
