#include "experiments/workbench.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/dist/comm.h"
#include "experiments/progress_hooks.h"

namespace qbert::experiments {

Workbench::Workbench(const CompressOptions& o) {
    engine::set_num_threads(o.threads);
    std::string meta;
    m = model::load_bert(o.checkpoint, &meta);
    cfg = model::TrainConfig::from_checkpoint_meta(meta, "checkpoint '" + o.checkpoint + "'");
    cfg.data_root = o.data_root;
    cfg.train_limit = o.train_limit;
    tok = std::make_unique<model::Tokenizer>(model::Tokenizer::from_file(cfg.vocab));
    sets = model::load_train_val(cfg, *tok);
    std::vector<model::Review> rows = model::load_imdb(cfg.data_root, "test");
    if (o.test_limit > 0 && o.test_limit < static_cast<int64_t>(rows.size()))
        rows.resize(static_cast<size_t>(o.test_limit));
    test = model::encode_reviews(rows, *tok, cfg.max_len, cfg.cache_dir);
}
double Workbench::test_accuracy() {
    return model::evaluate(*m, test, cfg.eval_batch_size, tok->pad_id()).accuracy;
}
double Workbench::val_accuracy() { return model::evaluate(*m, sets.val, cfg.eval_batch_size, tok->pad_id()).accuracy; }

void run_batches(model::BertForSequenceClassification& m, const model::Encoded& data, int64_t batch_size, int64_t n,
                 uint64_t seed, int32_t pad_id) {
    engine::NoGradGuard ng;
    m.train(false);
    engine::Rng r(seed), drop(0);
    int64_t done = 0;
    for (const auto& rows : model::make_batches(data, batch_size, true, r)) {
        if (done++ >= n) break;
        model::Batch b = model::collate(data, rows, pad_id);
        (void)m.logits(b.input_ids, b.attention_mask, drop);
    }
}

void Workbench::run_batches(int64_t n) { experiments::run_batches(*m, sets.train, cfg.eval_batch_size, n, cfg.seed, tok->pad_id()); }
void Workbench::finetune(const CompressOptions& o, const char* what) {
    model::FitOptions f = cfg.fit_options(tok->pad_id());
    f.epochs = o.epochs;
    f.lr = o.lr;
    f.warmup = o.warmup;  // 0 (the default) as Mase's fine-tuning: linear decay from the start
    f.seed = o.seed;
    model::fit(*m, sets.train, sets.val, f, progress_hooks(what));
}
void Workbench::save(const std::string& out, const std::string& extra_key,
                     const std::string& extra_json) {
    nlohmann::json meta = nlohmann::json::parse(model::checkpoint_meta(cfg));
    meta[extra_key] = nlohmann::json::parse(extra_json);
    // data-parallel (MPI ranks, identical models): rank 0 writes, and no rank goes on before the file is whole
    if (engine::dist::rank() == 0) model::save_bert(out, *m, meta.dump());
    engine::dist::barrier();
    std::printf("checkpoint=%s\n", out.c_str());
}

void Workbench::reload(const std::string& path) {
    m = model::load_bert(path);
}

}  // namespace qbert::experiments
