"""The seed guide's Phase 2: a small hyperparameter search tracked in MLflow, whose best model becomes the champion.

Every (learning rate, batch size) of the grid is one training run (train_mlflow.train_and_log), nested under a
parent run "tune" in one experiment. The best run by --metric (test accuracy by default) has its logged model
registered as a new version of --model-name, and the alias (champion) is moved to it; a bento-ts server following
models:/<name>@champion with BENTO_MODEL_POLL_SECONDS swaps it in without a restart.

    make tune                   # 3 learning rates x 2 batch sizes, EPOCHS (default 10) each
    make tune QUICK=1           # 2 x 2, one epoch on 2,000 images each (tests)
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_mlflow  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a 2 x 2 grid of quick runs (one epoch on 2,000 images)")
    p.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS") or 10))
    p.add_argument("--lrs", default=None, help="comma-separated learning rates (default 1e-3,3e-3,1e-2; quick: 1e-3,1e-2)")
    p.add_argument("--batch-sizes", default="64,128", help="comma-separated batch sizes")
    p.add_argument("--metric", default="test_accuracy", choices=["test_accuracy", "test_f1"], help="what the best run maximises")
    p.add_argument("--model-name", default=os.environ.get("MODEL_NAME") or "vision-model")
    p.add_argument("--alias", default="champion")
    p.add_argument("--experiment", default="vision-classifier-tune")
    p.add_argument("--data-dir", default=None)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or "http://localhost:5001"
    train_mlflow.check_mlflow(tracking_uri)
    import mlflow

    lrs = [float(x) for x in (args.lrs or ("1e-3,1e-2" if args.quick else "1e-3,3e-3,1e-2")).split(",")]
    batch_sizes = [int(x) for x in args.batch_sizes.split(",")]
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(args.experiment)
    t0 = time.time()
    trials = []
    with mlflow.start_run(run_name="tune") as parent:
        mlflow.log_params({"learning_rates": ",".join(f"{x:g}" for x in lrs), "batch_sizes": args.batch_sizes,
                           "metric": args.metric, "quick": args.quick, "trials": len(lrs) * len(batch_sizes)})
        for lr in lrs:
            for batch_size in batch_sizes:
                trial_args = train_mlflow.parse_args(
                    ["--lr", str(lr), "--batch-size", str(batch_size), "--epochs", str(args.epochs), "--model-name", args.model_name,
                     "--experiment", args.experiment]
                    + (["--quick"] if args.quick else []) + (["--data-dir", args.data_dir] if args.data_dir else []))
                r = train_mlflow.train_and_log(trial_args, tracking_uri, register=False, nested=True)
                score = r["accuracy"] if args.metric == "test_accuracy" else r["f1"]
                trials.append({**r, "lr": lr, "batch_size": batch_size, "score": score})
                print(f"trial lr={lr:g} batch={batch_size}: {args.metric} {score:.4f} (run {r['run_id']})", flush=True)
        # Ties go to the earlier trial, so the choice does not depend on float noise in the order.
        best = max(trials, key=lambda t: (t["score"], -trials.index(t)))
        registered = mlflow.register_model(f"runs:/{best['run_id']}/model", args.model_name)
        client = mlflow.MlflowClient()
        client.set_registered_model_alias(args.model_name, args.alias, registered.version)
        mlflow.log_metrics({f"best_{args.metric}": best["score"]})
        mlflow.set_tags({"best_run_id": best["run_id"], "registered_version": registered.version})

    print()
    print(f"{len(trials)} trials in {time.time() - t0:.0f}s, experiment {args.experiment}, parent run {parent.info.run_id}")
    print(f"best:       lr={best['lr']:g} batch={best['batch_size']}, {args.metric} {best['score']:.4f}")
    print(f"run ID:     {best['run_id']}")
    print(f"model:      {args.model_name} version {registered.version} (alias {args.alias})")
    print(f"A server following models:/{args.model_name}@{args.alias} swaps it in at its next look (BENTO_MODEL_POLL_SECONDS).")


if __name__ == "__main__":
    main()
