"""Where the early-exit engine's time goes when it serves a stream of clips (issue 16).

Successor of ``early_exit_speed.py`` for the serving mode
(:meth:`dynamic_inference.engine.EarlyExitEngine.serve`): every scheme gets the same budget of
*frames per call* (equal memory), videos wait at each segment until a full call has gathered, the
stream is the test clips, decoded in memory first (decoding is not timed). For each budget the
full-inference engine and the depth, input and unified schemes (thresholds chosen on val by
:func:`dynamic_inference.evaluate.evaluate`, or ``--synthetic``) are served side by side, rounds
interleaved; the throughput ratio ``full / dynamic`` (median of per-round ratios, quartiles) is
compared with

* the **FLOPs factor**: full GFLOPs / the mean GFLOPs of the stops (target >= 0.8 x at budgets
  >= 128 frames for the input and unified schemes);
* the ratio a **latency table of the calls actually issued** predicts: every distinct
  (segment, frames) call the engine issued in the last round is timed alone on random input
  (stem if segment 0, its stages, its head; median of repeats), summed over the calls, for the
  scheme and for full inference (target >= 0.9 x): the gap is the engine's own cost.

The model is timed as its :func:`~dynamic_inference.fold.fold_batchnorm` copy (BatchNorm folded
into the convolutions, weights prepacked once; ``--no-fold``: the eager model), for full
inference and the schemes alike.

The **breakdown** splits each engine's time per segment (``e1``..: the stages up to that live
exit, segment 1 with the stem) and per kind of work (:data:`engine.WORK_KINDS`: stem,
convolutions, shift cache, heads, stop test, gather/compaction), mean of the rounds.

**Batch 1** (one video at a time, the camera case): each scheme with calls of one group of one
video and ``max_videos=1`` against full inference on one clip, interleaved; the mean time per
video and the time to decision per video (p50, p95, from the rounds pooled). ``stream`` is the
network path of ``python -m dynamic_inference stream`` (the input scheme, 2 frames per group,
sequential order, threshold ``--stream-threshold``) on the same clips in memory. The **batch-1
plan** (:func:`dynamic_inference.engine.prune_heads`): with stage and head times measured on
one video's call and the stops on val, the heads that cost more than they are predicted to save
are switched off (``<scheme>-pruned``, timed too), and where even the pruned scheme is predicted
slower than full inference on the whole clip the plan's choice is full inference: at batch 1 a
dynamic scheme then never runs slower than full inference, because it is not used. The choice
is made on time measured on val clips (one video at a time, interleaved), not on the prediction.

    python benchmarks/serving_speed.py [--checkpoint checkpoints/tiny_online.pt] [--clips 256]
        [--budgets 16,128,512,1024] [--repeats 3] [--threads 1] [--synthetic] [--quick]
        [--no-fold] [--json OUT]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from bench_common import (
    DEFAULT_CHECKPOINT,
    BenchmarkError,
    add_common_args,
    decoded_clips,
    environment,
    fmt_spread,
    interleaved,
    open_split,
    print_table,
    ratio_stats,
    require_checkpoint,
    run_cli,
    set_threads,
    write_json,
)
from torch import Tensor

from dynamic_inference.cost import exit_costs, full_cost
from dynamic_inference.engine import WORK_KINDS, EarlyExitEngine, EngineResult, prune_heads
from dynamic_inference.evaluate import evaluate
from dynamic_inference.flops import cost_table
from dynamic_inference.fold import fold_batchnorm
from dynamic_inference.schemes import confidence, fires, frame_order, make_scheme

DYNAMIC = ("depth", "input", "unified")
TARGET_VS_FLOPS = 0.8  # input and unified, budgets >= 128 frames
TARGET_VS_LATENCY = 0.9
FLOPS_TARGET_MIN_BUDGET = 128


@torch.inference_mode()
def call_latency(
    engine: EarlyExitEngine, calls: Sequence[tuple[int, int]], size: int, repeats: int
) -> dict[tuple[int, int], float]:
    """Seconds of each distinct (segment, frames) call, timed alone on random frames: the stem
    (segment 0), the segment's stages (no shift cache) and its head; median of ``repeats``."""
    model, pg = engine.model, engine.per_group
    out = {}
    for s, frames in sorted(set(calls)):
        x = torch.randn(frames, 3, size, size)
        state = model.stem(x)
        for _, _, stages in engine.segments[:s]:  # the input of segment s (not timed)
            for stage in stages:
                state = model.stage(stage, state, pg, None)
        samples = []
        for r in range(repeats + 1):
            t0 = time.perf_counter()
            st = model.stem(x) if s == 0 else state
            _, k, stages = engine.segments[s]
            for stage in stages:
                st = model.stage(stage, st, pg, None)
            f = model.heads[k].features(st).view(frames // pg, pg, -1).sum(1)
            model.heads[k].classifier(f / pg)
            if r > 0:
                samples.append(time.perf_counter() - t0)
        out[(s, frames)] = statistics.median(samples)
    return out


def predicted_s(table: dict[tuple[int, int], float], calls: Sequence[tuple[int, int]]) -> float:
    return sum(table[c] for c in calls)


def mean_seconds(results: list[EngineResult]) -> dict[str, list[float]]:
    """Kind -> seconds per segment, mean over rounds."""
    kinds = results[0].seconds
    return {k: [statistics.mean(r.seconds[k][s] for r in results) for s in range(len(v))]
            for k, v in kinds.items()}


def segment_names(engine: EarlyExitEngine) -> list[str]:
    return [f"e{k + 1}" for _, k, _ in engine.segments]


def serve_budget(
    engines: dict[str, EarlyExitEngine], clips: dict[str, Tensor], budget: int, repeats: int,
    size: int, flops: dict[str, float],
) -> dict[str, Any]:
    """Serve every engine at ``budget`` frames per call, interleaved; ratios and breakdown."""
    results: dict[str, list[EngineResult]] = {name: [] for name in engines}

    def variant(name: str):
        return lambda: results[name].append(engines[name].serve(iter(clips[name]), budget))

    names = [n for n in engines if budget >= engines[n].per_group]
    times = interleaved({n: variant(n) for n in names}, repeats)
    for n in names:
        results[n] = results[n][1:]  # the warm-up round
    tables = {n: call_latency(engines[n], results[n][-1].calls, size, max(2, repeats))
              for n in names}
    pred = {n: predicted_s(tables[n], results[n][-1].calls) for n in names}
    row: dict[str, Any] = {"budget": budget, "schemes": {}}
    for n in names:
        ratio = ratio_stats(times["full"], times[n])
        pred_ratio = pred["full"] / pred[n]
        calls = results[n][-1].calls
        row["schemes"][n] = {
            "wall_s": statistics.median(times[n]),
            "clips_per_s": len(clips[n]) / statistics.median(times[n]),
            "throughput_ratio": ratio,
            "flops_factor": flops[n],
            "over_flops": ratio["median"] / flops[n],
            "predicted_ratio_calls": pred_ratio,
            "over_predicted": ratio["median"] / pred_ratio,
            "predicted_s": pred[n],
            "calls": len(calls),
            "full_calls": sum(f == budget // engines[n].per_group * engines[n].per_group
                              for _, f in calls),
            "segments": segment_names(engines[n]),
            "seconds": mean_seconds(results[n]),
        }
    return row


def batch_one(
    engines: dict[str, EarlyExitEngine], clips: dict[str, Tensor], repeats: int
) -> dict[str, Any]:
    """One video at a time: mean seconds per video and time-to-decision p50 / p95."""
    results: dict[str, list[EngineResult]] = {name: [] for name in engines}

    def variant(name: str):
        eng = engines[name]
        return lambda: results[name].append(eng.serve(iter(clips[name]), eng.per_group, 1))

    times = interleaved({n: variant(n) for n in engines}, repeats)
    out = {}
    for n in engines:
        decided = torch.cat([r.decided_s for r in results[n][1:]]) * 1e3  # type: ignore[misc]
        out[n] = {
            "ms_per_video": 1e3 * statistics.median(times[n]) / len(clips[n]),
            "speedup_vs_full": ratio_stats(times["full"], times[n]),
            "decision_ms_p50": float(decided.quantile(0.5)),
            "decision_ms_p95": float(decided.quantile(0.95)),
            "seconds": mean_seconds(results[n][1:]),
            "segments": segment_names(engines[n]),
        }
    return out


@torch.inference_mode()
def stage_head_ms(
    model: Any, engine: EarlyExitEngine, frames: int, size: int, repeats: int
) -> tuple[list[float], list[float]]:
    """Milliseconds of each stage (the stem in stage 0) and of each head with its stop test, on
    one video's call of ``frames`` frames; median of ``repeats`` after one warm-up."""
    x = torch.randn(frames, 3, size, size)
    k_all = model.num_exits
    stages: list[list[float]] = [[] for _ in range(k_all)]
    heads: list[list[float]] = [[] for _ in range(k_all)]
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        state = model.stem(x)
        for k in range(k_all):
            state = model.stage(k, state, frames, None)
            t1 = time.perf_counter()
            f = model.heads[k].features(state).view(1, frames, -1).sum(1)
            logits = model.heads[k].classifier(f / frames)  # (1, C)
            done = fires(confidence(logits)[0], engine.thresholds[:1])
            bool(done.any())
            logits.argmax(1).tolist()
            t2 = time.perf_counter()
            if r > 0:
                stages[k].append(1e3 * (t1 - t0))
                heads[k].append(1e3 * (t2 - t1))
            t0 = time.perf_counter()
    return [statistics.median(v) for v in stages], [statistics.median(v) for v in heads]


def print_breakdown(title: str, per_scheme: dict[str, dict[str, Any]], n_clips: int) -> None:
    """Milliseconds per video, per segment and kind of work."""
    print(title)
    rows = []
    for name, r in per_scheme.items():
        sec = r["seconds"]
        for s, seg in enumerate(r["segments"]):
            rows.append([name, seg] + [f"{1e3 * sec[k][s] / n_clips:.3f}" for k in WORK_KINDS]
                        + [f"{1e3 * sum(sec[k][s] for k in WORK_KINDS) / n_clips:.3f}"])
        total = sum(sum(v) for v in sec.values())
        rows.append([name, "all"] + [f"{1e3 * sum(sec[k]) / n_clips:.3f}" for k in WORK_KINDS]
                    + [f"{1e3 * total / n_clips:.3f}"])
    print_table(["scheme", "segment"] + [f"{k} ms" for k in WORK_KINDS] + ["sum ms"], rows)


def batch_one_plans(
    model: Any, cfg: Any, costs: Any, engines: dict[str, EarlyExitEngine], plan_clips: Tensor,
    a: argparse.Namespace,
) -> tuple[dict[str, Any], dict[str, EarlyExitEngine]]:
    """Per scheme: the heads :func:`engine.prune_heads` switches off at batch 1 (stage and head
    times measured here on one video's call, stops on val; ``--synthetic``: on the timing
    clips), then the choice between the pruned scheme and full inference, by *measured* time:
    both run one video at a time on ``plan_clips`` (val clips, or the timing clips with
    ``--synthetic``), rounds interleaved, and the faster is kept (the prediction alone was
    off by 3-5 % on this machine, enough to pick a slower scheme when the two are close).
    Returns the plans and the batch-1 engines: every engine plus ``<scheme>-pruned``."""
    from dynamic_inference.logits import LogitCache, split_logits

    def ordered(sch: Any) -> Tensor:
        return plan_clips[:, frame_order(sch.order, cfg.frames, sch.groups, sch.seed)].contiguous()

    def one_at_a_time(eng: EarlyExitEngine, x: Tensor) -> Any:
        return lambda: eng.serve(iter(x), eng.per_group, 1)

    cache = LogitCache()  # val is decoded once for the three schemes

    reps = max(5, a.repeats)
    full_stage, full_head = stage_head_ms(model, engines["full"], cfg.frames, cfg.input_size, reps)
    full_ms = sum(full_stage) + full_head[-1]
    full_clips = ordered(engines["full"].scheme)
    plans: dict[str, Any] = {}
    out = dict(engines)
    for n in DYNAMIC:
        eng, sch = engines[n], engines[n].scheme
        if a.synthetic:
            with torch.inference_mode():
                fl = model(ordered(sch)).stacked_logits().float()
        else:
            perm = frame_order(sch.order, cfg.frames, sch.groups, sch.seed)
            fl = split_logits(model, cfg, "val", perm, a.data, cache=cache).frame_logits
        st, hd = stage_head_ms(model, eng, eng.per_group, cfg.input_size, reps)
        thr, ms = prune_heads(sch, eng.thresholds, sch.point_logits(fl), st, hd, cfg.frames)
        live = sch.live_exits(thr, model.num_exits)
        pruned = EarlyExitEngine(model, sch, thr, exit_costs(costs, sch, thr.tolist()),
                                 cfg.frames)
        out[f"{n}-pruned"] = pruned
        times = interleaved({"pruned": one_at_a_time(pruned, ordered(sch)),
                             "full": one_at_a_time(engines["full"], full_clips)}, a.repeats)
        measured = {k: 1e3 * statistics.median(v) / len(plan_clips) for k, v in times.items()}
        plans[n] = {
            "heads_off": [k + 1 for k in range(model.num_exits) if eng.live[k] and not live[k]],
            "thresholds": [round(float(t), 6) for t in thr],
            "stage_ms": st, "head_ms": hd, "predicted_ms": ms, "predicted_full_ms": full_ms,
            "plan_ms": measured["pruned"], "plan_full_ms": measured["full"],
            "choice": f"{n}-pruned" if measured["pruned"] < measured["full"] else "full",
        }
    return plans, out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    p.add_argument("--clips", type=int, default=256, help="test clips held in memory")
    p.add_argument("--budgets", default="16,128,512,1024", help="frames per call")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--groups", type=int, default=4)
    p.add_argument("--synthetic", action="store_true", help="random clips, shared threshold")
    p.add_argument("--threshold", type=float, default=None, help="shared threshold")
    p.add_argument("--stream-threshold", type=float, default=0.9)
    p.add_argument("--batch1-clips", type=int, default=128, help="clips timed at batch 1")
    p.add_argument("--data", default=None, help="dataset root (default: the checkpoint's)")
    p.add_argument("--no-fold", action="store_true",
                   help="time the eager model (default: BatchNorm folded, weights prepacked)")
    a = p.parse_args(argv)
    threads = set_threads(a.threads)
    ckpt = require_checkpoint(a.checkpoint)
    try:
        budgets = [int(b) for b in a.budgets.split(",")]
    except ValueError:
        raise BenchmarkError(f"--budgets must be integers, got {a.budgets!r}") from None
    if a.quick:
        a.clips, a.repeats, budgets, a.batch1_clips = 8, 1, [16, 64], 8
    from dynamic_inference.checkpoint import load_checkpoint

    model, cfg, _ = load_checkpoint(ckpt)
    costs = cost_table(model, cfg.input_size)  # counted on the model as trained
    if not a.no_fold:
        model = fold_batchnorm(model)
    if a.synthetic:
        torch.manual_seed(0)
        raw = torch.randn(a.clips, cfg.frames, 3, cfg.input_size, cfg.input_size)
        source = "synthetic (random clips)"
    else:
        raw, _ = decoded_clips(open_split(cfg, "test", a.data), a.clips)
        source = f"test split, {raw.shape[0]} clips evenly spaced"
    engines: dict[str, EarlyExitEngine] = {}
    clips: dict[str, Tensor] = {}
    flops: dict[str, float] = {}
    rules: dict[str, str] = {}
    full_gf = full_cost(costs, cfg.frames)
    for name in ("full", *DYNAMIC):
        sch = make_scheme(name, a.groups, cfg.order, cfg.seed)
        n_points = sch.num_points(model.num_exits)
        if name == "full":
            thr, rules[name] = [0.0], "-"
        elif a.threshold is not None or a.synthetic:
            t = 0.5 if a.threshold is None else a.threshold
            thr, rules[name] = [t] * n_points, f"shared {t:g}"
        else:
            rep = evaluate(ckpt, "test", name, cfg.order, a.groups, data=a.data,
                           engine=False).to_report()
            thr, rules[name] = rep["thresholds"], rep["threshold_rule"]
        engines[name] = EarlyExitEngine(model, sch, thr, exit_costs(costs, sch, thr),
                                        cfg.frames)
        clips[name] = raw[:, frame_order(sch.order, cfg.frames, sch.groups, sch.seed)]
        clips[name] = clips[name].contiguous()
        flops[name] = full_gf / engines[name].run(clips[name]).mean_cost
    stream_scheme = make_scheme("input", cfg.frames // 2, "sequential", cfg.seed)
    stream_engine = EarlyExitEngine(
        model, stream_scheme, [a.stream_threshold] * stream_scheme.num_points(model.num_exits),
        list(costs.gflops_per_frame), cfg.frames)

    print(f"{ckpt.name}: {source}; {threads} thread(s); clips decoded before timing; "
          f"machine load {environment()['load_avg_1min']} (shared: ratios only)")
    print("FLOPs factor (full / mean of the stops): "
          + ", ".join(f"{n} x{flops[n]:.2f} ({rules[n]})" for n in DYNAMIC))
    rows = [serve_budget(engines, clips, b, a.repeats, cfg.input_size, flops) for b in budgets]
    table = []
    for r in rows:
        for n in DYNAMIC:
            if n not in r["schemes"]:
                continue
            s = r["schemes"][n]
            table.append([r["budget"], n, f"{s['clips_per_s']:.0f}",
                          f"{r['schemes']['full']['clips_per_s']:.0f}",
                          fmt_spread(s["throughput_ratio"]), f"{s['flops_factor']:.2f}",
                          f"{s['predicted_ratio_calls']:.2f}", f"{s['over_flops']:.2f}",
                          f"{s['over_predicted']:.2f}", f"{s['full_calls']}/{s['calls']}"])
    print_table(["frames/call", "scheme", "clips/s", "full clips/s", "dyn/full x [IQR]",
                 "FLOPs x", "call-table x", "x/FLOPs", "x/call-table", "full calls"], table)
    print(f"targets: x/FLOPs >= {TARGET_VS_FLOPS} (input, unified; >= "
          f"{FLOPS_TARGET_MIN_BUDGET} frames/call), x/call-table >= {TARGET_VS_LATENCY}")
    for r in rows:
        print_breakdown(f"\nbreakdown at {r['budget']} frames per call (ms per video, mean of "
                        f"{a.repeats} rounds)", r["schemes"], raw.shape[0])
    step = max(1, raw.shape[0] // a.batch1_clips)
    if a.synthetic:
        plan_clips = raw[::step]
    else:  # the plan is measured on val clips, the figures below on the test clips
        plan_clips, _ = decoded_clips(open_split(cfg, "val", a.data), a.batch1_clips)
    plans, b1_engines = batch_one_plans(model, cfg, costs, engines, plan_clips, a)
    print("\nbatch-1 plan: heads whose measured cost exceeds their predicted saving are "
          "switched off (engine.prune_heads on val stops); full inference where it is "
          f"faster, measured on {len(plan_clips)} {'timing' if a.synthetic else 'val'} clips")
    print_table(["scheme", "heads off", "predicted ms", "full predicted ms", "measured ms",
                 "full measured ms", "batch-1 choice"],
                [[n, ",".join(f"e{k}" for k in pl["heads_off"]) or "none",
                  f"{pl['predicted_ms']:.2f}", f"{pl['predicted_full_ms']:.2f}",
                  f"{pl['plan_ms']:.2f}", f"{pl['plan_full_ms']:.2f}", pl["choice"]]
                 for n, pl in plans.items()])
    b1_clips = {n: clips[n.removesuffix("-pruned")][::step] for n in b1_engines}
    b1 = batch_one({**b1_engines, "stream": stream_engine},
                   {**b1_clips, "stream": raw[::step].contiguous()}, a.repeats)
    print("\nbatch 1 (one video at a time)")
    print_table(["scheme", "ms/video", "full/dyn x [IQR]", "decision p50 ms", "p95 ms"],
                [[n, f"{r['ms_per_video']:.2f}", fmt_spread(r["speedup_vs_full"]),
                  f"{r['decision_ms_p50']:.2f}", f"{r['decision_ms_p95']:.2f}"]
                 for n, r in b1.items()])
    plan_measured = {n: {"choice": pl["choice"], "ms_per_video": b1[pl["choice"]]["ms_per_video"],
                         "speedup_vs_full": b1[pl["choice"]]["speedup_vs_full"]}
                     for n, pl in plans.items()}
    print("\nbatch 1 with the plan's choice (target: never slower than full inference)")
    print_table(["scheme", "runs as", "ms/video", "full ms/video", "full/dyn x [IQR]"],
                [[n, m["choice"], f"{m['ms_per_video']:.2f}", f"{b1['full']['ms_per_video']:.2f}",
                  fmt_spread(m["speedup_vs_full"])] for n, m in plan_measured.items()])
    print_breakdown("\nbreakdown at batch 1 (ms per video)", b1, len(b1_clips["full"]))
    report = {
        "benchmark": "serving_speed",
        "quick": a.quick,
        "env": environment(),
        "checkpoint": ckpt.name,
        "clips": source,
        "n_clips": int(raw.shape[0]),
        "threshold_rules": rules,
        "flops_factor": flops,
        "rows": rows,
        "batch1": b1,
        "batch1_plans": plans,
        "batch1_plan_measured": plan_measured,
        "folded": not a.no_fold,
        "targets": {"vs_flops": TARGET_VS_FLOPS, "vs_flops_min_budget": FLOPS_TARGET_MIN_BUDGET,
                    "vs_latency": TARGET_VS_LATENCY},
    }
    write_json(report, a.json_out)
    return report


if __name__ == "__main__":
    run_cli(main)
