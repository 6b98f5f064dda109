#include "model/mlp_demo.h"

#include <cmath>

namespace qbert::model {

using namespace engine;

Mlp::Mlp(int64_t in, int64_t hidden, int64_t classes, Rng& rng, double dropout) : dropout_(dropout) {
    register_module("fc1", std::make_shared<Linear>(in, hidden, rng, 1.0 / std::sqrt(double(in))));
    register_module("ln1", std::make_shared<LayerNorm>(hidden, 1e-5));
    register_module("fc2", std::make_shared<Linear>(hidden, hidden, rng, 1.0 / std::sqrt(double(hidden))));
    register_module("ln2", std::make_shared<LayerNorm>(hidden, 1e-5));
    register_module("head", std::make_shared<Linear>(hidden, classes, rng, 1.0 / std::sqrt(double(hidden))));
}

Tensor Mlp::forward_logits(const Tensor& x, Rng& rng) {
    Tensor h = dropout(gelu(child("ln1").forward(child("fc1").forward(x))), dropout_, rng, training());
    h = dropout(gelu(child("ln2").forward(child("fc2").forward(h))), dropout_, rng, training());
    return child("head").forward(h);
}

namespace {
void make_data(int64_t n, int64_t d, const std::vector<double>& rot, Rng& rng, Tensor& x, Tensor& y) {
    x = Tensor::randn({n, d}, rng);
    std::vector<int32_t> labels(static_cast<size_t>(n));
    const float* xp = x.data<float>();
    for (int64_t i = 0; i < n; ++i) {
        double u = 0, v = 0;  // two fixed random directions
        for (int64_t k = 0; k < d; ++k) {
            u += rot[k] * xp[i * d + k];
            v += rot[d + k] * xp[i * d + k];
        }
        labels[i] = u * v > 0 ? 1 : 0;
    }
    y = Tensor::from_vector(labels, {n});
}

double accuracy(const Tensor& logits, const Tensor& y) {
    const float* l = logits.data<float>();
    const int32_t* t = y.data<int32_t>();
    int64_t ok = 0;
    for (int64_t i = 0; i < y.numel(); ++i) ok += ((l[2 * i + 1] > l[2 * i]) ? 1 : 0) == t[i];
    return static_cast<double>(ok) / static_cast<double>(y.numel());
}
}  // namespace

MlpDemoResult run_mlp_demo(const MlpDemoOptions& o, const std::function<void(int64_t, int64_t, float)>& on_step) {
    ENGINE_CHECK(o.batch > 0 && o.epochs > 0 && o.train_size >= o.batch, "mlp demo: need batch > 0, epochs > 0, train_size >= batch");
    Rng root(o.seed);
    Rng data_rng = root.fork("data"), init_rng = root.fork("init"), drop_rng = root.fork("dropout"),
        order_rng = root.fork("order");
    std::vector<double> rot(static_cast<size_t>(2 * o.in));
    for (auto& r : rot) r = data_rng.normal();
    Tensor xtr, ytr, xte, yte;
    make_data(o.train_size, o.in, rot, data_rng, xtr, ytr);
    make_data(o.test_size, o.in, rot, data_rng, xte, yte);

    Mlp model(o.in, o.hidden, 2, init_rng, o.dropout);
    AdamWOptions ao;
    ao.lr = o.lr;
    ao.weight_decay = o.weight_decay;
    model.name_parameters();  // QBERT_GRAPH's leaves show their names
    AdamW opt(model.named_parameters(), ao);
    opt.set_no_decay({"bias", "ln"});
    const int64_t steps_per_epoch = o.train_size / o.batch;
    const int64_t total = steps_per_epoch * o.epochs;
    MlpDemoResult res;
    std::vector<int64_t> order(static_cast<size_t>(o.train_size));
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    int64_t step = 0;
    model.train(true);
    for (int64_t e = 0; e < o.epochs; ++e) {
        for (size_t i = order.size() - 1; i > 0; --i)  // Fisher-Yates with our Rng
            std::swap(order[i], order[order_rng.below(i + 1)]);
        for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
            Tensor xb = Tensor::empty({o.batch, o.in});
            std::vector<int32_t> yb(static_cast<size_t>(o.batch));
            for (int64_t b = 0; b < o.batch; ++b) {
                const int64_t r = order[s * o.batch + b];
                std::copy_n(xtr.data<float>() + r * o.in, o.in, xb.data<float>() + b * o.in);
                yb[b] = ytr.data<int32_t>()[r];
            }
            Tensor loss = cross_entropy(model.forward_logits(xb, drop_rng), Tensor::from_vector(yb, {o.batch}));
            const float lv = static_cast<float>(loss.item());
            ENGINE_CHECK(std::isfinite(lv), "mlp demo: loss is ", lv, " at step ", step, "\nhint: lower --lr");
            opt.zero_grad();
            loss.backward();
            clip_grad_norm(opt.params(), 1.0);
            opt.set_lr(o.lr * lr_factor(LrSchedule::LinearWarmupDecay, step, total / 10, total));
            opt.step();
            res.losses.push_back(lv);
            if (on_step) on_step(step + 1, total, lv);
        }
    }
    model.train(false);
    {
        NoGradGuard ng;
        res.test_accuracy = accuracy(model.forward_logits(xte, drop_rng), yte);
    }
    res.params = model.named_parameters();
    return res;
}

}  // namespace qbert::model
