#!/usr/bin/env python3
"""Peers for Benchmarks/search/run: one search per process, so each peak RSS is its own.

usage: peers.py sklearn N_JOBS TRAIN.csv FEATURES OUTDIR NAME      GridSearchCV, loky with N_JOBS processes
       peers.py dask-joblib WORKERS TRAIN.csv FEATURES OUTDIR NAME  the same under joblib's dask backend on a
                                                                   LocalCluster (WORKERS processes x 1 thread)
       peers.py dask-ml WORKERS TRAIN.csv FEATURES OUTDIR NAME      dask_ml.model_selection.GridSearchCV there
       peers.py halving N_JOBS TRAIN.csv FEATURES OUTDIR NAME      HalvingGridSearchCV (factor 3, n_samples)
         -> one JSON line; cv_results_ is written to OUTDIR/cv-<kind>-<N>.csv
       peers.py ours NAME grid|halving RANKS LOG RESULTS.csv BASELINE_MB RAW_MB
         -> the same JSON line for one MPILearn run, from its output (LOG) and its cv_results CSV
       peers.py table RESULTS.jsonl RAW_MB                         -> the comparison table

The search (the issue's workload): RandomForestClassifier(random_state=0, max_features="sqrt",
n_jobs=1) over n_estimators {2,4,6,8,10} x max_depth {2,4,6,8,10}, cv=KFold(3) (no shuffle: the
folds MPILearn's `--cv 3` makes; an int cv would give StratifiedKFold for a classifier), accuracy,
refit=True. FEATURES: comma-separated columns; carrier and origin become ordinal codes of the
training dictionary (sorted), as in Benchmarks/forest/peers.py; every other column is numeric.
Target: arr_delay > 15, rows with a missing arr_delay dropped.

Times: wall_s runs from the process's start (interpreter, imports and, for dask, the cluster's
start included, as /usr/bin/time counts mpirun's launch for MPILearn) to the end of the refit.
makespan_s is the cross-validation phase alone (fit minus refit); its lower bound is, per
halving iteration (one for a grid), max(sum of the tasks' fit + score seconds / workers, longest
task), the tasks' seconds coming from cv_results_ (mean_fit_time and mean_score_time times cv;
cv_results_ keeps only means, so the longest task is the candidate with the longest mean).
Under joblib's dask backend the forest's own Parallel(n_jobs=1) is dispatched to the cluster too
(joblib's dask backend nests, and the outer task secedes from its worker thread meanwhile), so the
fits' measured seconds overlap and their sum over workers is no bound; the table marks a row whose
tasks sum to more than workers x makespan and also gives its makespan against scikit-learn n_jobs=1's
task seconds over the same number of workers.
Memory: peak RSS per process: this one (getrusage) and its worker processes (VmHWM from /proc, read
while they are alive: loky's and the dask workers). Not getrusage inside a worker: a spawned worker's
ru_maxrss keeps the RSS it was forked with from this process before its exec.
"""
import json, os, re, resource, sys, time

CATEGORICAL = ["carrier", "origin"]
GRID = {"n_estimators": [2, 4, 6, 8, 10], "max_depth": [2, 4, 6, 8, 10]}
CV = 3


def load_train(path, cols):
    import numpy as np
    import pandas as pd
    tr = pd.read_csv(path)
    tr = tr[tr.arr_delay.notna()]   # already dropped by the split; kept so the rule is stated here too
    for c in CATEGORICAL:           # codes from the training dictionary (sorted), as the forest peers do
        if c in cols:
            cats = sorted(tr[c].dropna().unique())
            tr[c] = pd.Categorical(tr[c], categories=cats).codes.astype(float)
    return tr[cols].to_numpy(np.float64), (tr.arr_delay > 15).to_numpy()


def self_peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_peaks_mb():
    """VmHWM (peak RSS) of this process's live descendants, without helper processes."""
    import psutil
    peaks = {}
    for p in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" in " ".join(p.cmdline()):
                continue
            with open(f"/proc/{p.pid}/status") as f:
                m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
            if m:
                peaks[p.pid] = int(m.group(1)) / 1024
        except (psutil.Error, OSError):
            pass
    return peaks


def process_age_s():
    import psutil
    return time.time() - psutil.Process().create_time()


def num(v):
    """A parameter value as written in a CSV: '10', '10.0', 10 -> 10."""
    try:
        f = float(v)
        return int(f) if f == int(f) else f
    except (TypeError, ValueError):
        return v


def from_cv_results(df, workers):
    """Best candidate, best mean score and the makespan lower bound from a cv_results_ table."""
    import numpy as np
    names = sorted(GRID)
    if "iter" in df.columns:        # successive halving: the best is chosen in the last iteration
        last = df[df["iter"] == df["iter"].max()]
        best = last.index[int(np.argmax(last.mean_test_score.to_numpy()))]
        iters = [df[df["iter"] == i] for i in sorted(df["iter"].unique())]
    else:                           # GridSearchCV: the first candidate of rank 1
        best = df.index[int(np.argmin(df.rank_test_score.to_numpy()))]
        iters = [df]
    lb = total = longest = 0.0
    for it in iters:
        task = (it.mean_fit_time + it.mean_score_time).to_numpy()
        t, m = float(task.sum() * CV), float(task.max())
        lb += max(t / workers, m)
        total += t
        longest = max(longest, m)
    return dict(best_params={n: num(df.loc[best, f"param_{n}"]) for n in names},
                best_score=float(df.loc[best, "mean_test_score"]), candidates=len(df),
                lower_bound_s=lb, tasks_s=total, max_task_s=longest)


def run_peer(kind, n, train, features, outdir, name):
    t_start = process_age_s()       # interpreter start and this module's imports
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, KFold
    client = None
    marks = {}
    if kind.startswith("dask"):
        import logging
        import joblib
        from dask.distributed import Client, LocalCluster
    if kind == "dask-ml":
        import dask_ml.model_selection
        import dask_ml.model_selection._search as dask_search
        # dask-ml has no refit_time_: note when it builds the refit graph, i.e. when the CV phase ended.
        build_refit_graph = dask_search.build_refit_graph
        def timed_refit_graph(*args, **kwargs):
            marks["refit_start"] = time.perf_counter()
            return build_refit_graph(*args, **kwargs)
        dask_search.build_refit_graph = timed_refit_graph
    if kind == "halving":
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401
        from sklearn.model_selection import HalvingGridSearchCV
    baseline = self_peak_mb()       # runtime and libraries, before any data

    cluster_s = 0.0
    if kind.startswith("dask"):
        t = time.perf_counter()
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
        cluster_s = time.perf_counter() - t

    t = time.perf_counter()
    x, y = load_train(train, features.split(","))
    load_s = time.perf_counter() - t

    rf = RandomForestClassifier(random_state=0, max_features="sqrt", n_jobs=1)
    common = dict(cv=KFold(CV), scoring="accuracy", refit=True)
    t = time.perf_counter()
    if kind == "sklearn":
        gs = GridSearchCV(rf, GRID, n_jobs=n, **common).fit(x, y)
    elif kind == "halving":
        gs = HalvingGridSearchCV(rf, GRID, factor=3, resource="n_samples", random_state=0, n_jobs=n, **common).fit(x, y)
    elif kind == "dask-joblib":
        with joblib.parallel_backend("dask"):
            gs = GridSearchCV(rf, GRID, n_jobs=-1, **common).fit(x, y)
    elif kind == "dask-ml":
        # iid=False: the plain mean over folds, as scikit-learn (dask-ml's default weights by fold size).
        gs = dask_ml.model_selection.GridSearchCV(rf, GRID, n_jobs=-1, scheduler=client, iid=False, **common).fit(x, y)
    else:
        raise SystemExit(f"peers.py: unknown peer '{kind}'")
    end = time.perf_counter()
    search_s = end - t
    wall_s = process_age_s()

    peaks = worker_peaks_mb()
    workers = n
    df = pd.DataFrame(gs.cv_results_)
    os.makedirs(outdir, exist_ok=True)
    csv = os.path.join(outdir, f"cv-{kind}-{n}.csv")
    df.to_csv(csv, index=False)
    s = from_cv_results(df, workers)
    refit_s = float(getattr(gs, "refit_time_", end - marks.get("refit_start", float("nan"))))
    makespan = search_s - refit_s if refit_s == refit_s else float("nan")
    # The search's own answer must be the one read back from cv_results_.
    assert {k: num(v) for k, v in gs.best_params_.items()} == s["best_params"], (gs.best_params_, s)
    assert abs(gs.best_score_ - s["best_score"]) < 1e-12
    out = dict(run=name, kind=kind, search="halving" if kind == "halving" else "grid", workers=workers, rows=len(x), wall_s=wall_s, startup_s=t_start, cluster_s=cluster_s,
               load_s=load_s, search_s=search_s, refit_s=refit_s, makespan_s=makespan,
               makespan_ratio=makespan / s["lower_bound_s"], peak_mb=max([self_peak_mb(), *peaks.values()]),
               peak_main_mb=self_peak_mb(), peak_workers_mb=sorted(peaks.values()), baseline_mb=baseline,
               cv_results=csv, **s)
    if kind == "halving":
        out.update(n_candidates=[int(c) for c in gs.n_candidates_], n_resources=[int(r) for r in gs.n_resources_])
    if client is not None:
        client.close()
        cluster.close()
    print(json.dumps(out))


def parse_ours(name, search, ranks, log, results, baseline_mb, raw_mb):
    """One MPILearn run: wall and per-rank peaks from /usr/bin/time, best from its output and CSV."""
    import pandas as pd
    text = open(log, errors="replace").read()
    wall = re.findall(r"^WALL ([0-9.]+)", text, re.M)
    peaks = [int(k) / 1024 for k in re.findall(r"^PEAK (\d+)", text, re.M)]
    out = dict(kind="mpilearn", run=name, search=search, workers=ranks, wall_s=float(wall[-1]) if wall else float("nan"),
               peak_mb=max(peaks, default=float("nan")), peak_ranks_mb=peaks, baseline_mb=baseline_mb)
    # mpilearn's own memory report, if it prints one (as `forest run` does): it knows its baseline.
    # `forest run` says "... above the process baseline of Y MB", `search` "... above the process baseline = ...".
    m = re.search(r"^peak memory per rank: ([0-9.]+) MB max.*?; ([0-9.]+) MB above the process baseline(?: of ([0-9.]+) MB)?", text, re.M)
    if m:
        out.update(peak_self_mb=float(m.group(1)), above_mb=float(m.group(2)),
                   baseline_mb=float(m.group(3)) if m.group(3) else float(m.group(1)) - float(m.group(2)))
    else:
        out["above_mb"] = out["peak_mb"] - baseline_mb
    out["above_x_raw"] = out["above_mb"] / raw_mb
    # The CV phase's makespan from its `schedule: ... makespan X s, lower bound Y s ...` line (or a
    # `cv <seconds>` line); without either, the makespan is the whole wall time (marked in the table).
    sched = re.search(r"^schedule: .*?makespan ([0-9.]+) s(?:, lower bound ([0-9.]+) s)?", text, re.M)
    cv = re.findall(r"^cv:? ([0-9.]+)", text, re.M)
    if sched:
        out["makespan_s"] = float(sched.group(1))
        if sched.group(2):
            out["own_lower_bound_s"] = float(sched.group(2))
    else:
        out["makespan_s"] = float(cv[-1]) if cv else out["wall_s"]
    out["makespan_is_wall"] = not (sched or cv)
    refit = re.search(r"^refit: .* in ([0-9.]+) s", text, re.M)
    if refit:
        out["refit_s"] = float(refit.group(1))
    if os.path.exists(results):
        s = from_cv_results(pd.read_csv(results), ranks)
        out.update(s, cv_results=results)
        out["makespan_ratio"] = out["makespan_s"] / s["lower_bound_s"]
    b = re.search(r"^best: (\{.*\})\s+mean_test_score=([-0-9.eE+]+)", text, re.M)
    if b:
        try:
            printed = json.loads(b.group(1))
        except ValueError:
            printed = dict(re.findall(r"""["']?(\w+)["']?\s*[:=]\s*["']?([\w.+-]+)""", b.group(1)))
        printed = {k: num(v) for k, v in printed.items()}
        if "best_params" in out and (printed != out["best_params"] or abs(float(b.group(2)) - out["best_score"]) > 5e-5):
            out["warning"] = f"printed best {printed} {b.group(2)} differs from the CSV's {out['best_params']} {out['best_score']}"
        out["best_params"], out["best_score"] = printed, float(b.group(2))
    print(json.dumps(out))


def compare_scores(a, b):
    """Max |difference| of mean_test_score between two cv_results tables, matched by parameters."""
    import pandas as pd
    def keyed(path):
        df = pd.read_csv(path)
        return {tuple(num(df.loc[i, f"param_{n}"]) for n in sorted(GRID)): float(df.loc[i, "mean_test_score"]) for i in df.index}
    ka, kb = keyed(a), keyed(b)
    common = ka.keys() & kb.keys()
    return max((abs(ka[k] - kb[k]) for k in common), default=float("nan")), len(common)


def table(jsonl, raw_mb):
    rows = [json.loads(l) for l in open(jsonl) if l.strip()]
    ref = next((r for r in rows if r.get("kind") == "sklearn" and r.get("workers") == 2 and "wall_s" in r), None)
    ref1 = next((r for r in rows if r.get("kind") == "sklearn" and "best_score" in r), None)
    ref = ref or ref1
    fmt = "%-34s %8s %8s  %-30s %8s %9s  %-32s %s"
    notes = []
    print(fmt % ("run", "wall s", "sk2/run", "best params", "score", "Δ vs sk", "peak MB/proc", "makespan/LB"))
    for r in rows:
        if "skipped" in r or "failed" in r:
            print("%-34s %s" % (r["run"], r.get("skipped") or r.get("failed")))
            continue
        params = ", ".join(f"{k}={v}" for k, v in sorted(r.get("best_params", {}).items())) or "?"
        ratio = "%.2f" % (ref["wall_s"] / r["wall_s"]) if ref else "-"
        delta = "%+.4f" % (r["best_score"] - ref["best_score"]) if ref and "best_score" in r else "-"
        if r["kind"] == "mpilearn":
            mem = "%.0f (ranks %s)" % (r["peak_mb"], ", ".join("%.0f" % p for p in r["peak_ranks_mb"]))
        elif r.get("peak_workers_mb"):
            mem = "%.0f (main %.0f, w %s)" % (r["peak_mb"], r["peak_main_mb"], ", ".join("%.0f" % p for p in r["peak_workers_mb"]))
        else:
            mem = "%.0f" % r["peak_mb"]
        span = "-"
        if "makespan_ratio" in r:
            overlap = r["tasks_s"] > 1.05 * r["workers"] * r["makespan_s"]
            if overlap and r.get("own_lower_bound_s"):   # MPILearn: nested candidates share fits (see ‡)
                span = "%.2f (%.1f / %.1f s)‡" % (r["makespan_s"] / r["own_lower_bound_s"], r["makespan_s"], r["own_lower_bound_s"])
            else:
                span = "%.2f (%.1f / %.1f s)%s" % (r["makespan_ratio"], r["makespan_s"], r["lower_bound_s"],
                                                  "*" if r.get("makespan_is_wall") else "†" if overlap else "")
            if overlap:
                notes.append(r)
        print(fmt % (r["run"], "%.1f" % r["wall_s"], ratio, params, "%.4f" % r.get("best_score", float("nan")), delta, mem, span))
    serial = next((r for r in rows if r.get("kind") == "sklearn" and r.get("workers") == 1 and "tasks_s" in r), None)
    for r in notes:
        if r.get("own_lower_bound_s"):
            print("‡ %s: its CSV's fit seconds sum to %.1f > %d ranks x %.1f s makespan: it grows one forest per depth and"
                  " fold for all n_estimators (nested candidates) and gives each candidate its prefix's share of that fit,"
                  " so the CSV's bound (%.1f s, ratio %.2f) is the work of separate fits; shown: its own schedule line's"
                  " bound" % (r["run"], r["tasks_s"], r["workers"], r["makespan_s"], r["lower_bound_s"], r["makespan_ratio"]))
            continue
        alt = "; against scikit-learn n_jobs=1's %.1f task seconds / %d workers: %.2f" % (
            serial["tasks_s"], r["workers"], r["makespan_s"] / (serial["tasks_s"] / r["workers"])) if serial else ""
        print("† %s: its tasks' seconds sum to %.1f > %d workers x %.1f s makespan (timed tasks overlapped), so that "
              "bound does not hold%s" % (r["run"], r["tasks_s"], r["workers"], r["makespan_s"], alt))
    print()
    print(f"raw training data: {raw_mb:.1f} MB (rows x 14 features x 8 bytes); goal: MPILearn's peak per rank above its"
          " process baseline <= 1.5x that")
    for r in rows:
        if r.get("kind") == "mpilearn" and "above_mb" in r:
            print("  %-32s %.0f MB above a baseline of %.0f MB = %.2fx raw%s" % (
                r["run"], r["above_mb"], r["baseline_mb"], r["above_x_raw"],
                "" if "peak_self_mb" in r else " (baseline: mpilearn info's peak per rank)"))
        elif "baseline_mb" in r and "peak_main_mb" in r:
            print("  %-32s main process %.0f MB above its %.0f MB of imports = %.2fx raw" % (
                r["run"], r["peak_main_mb"] - r["baseline_mb"], r["baseline_mb"], (r["peak_main_mb"] - r["baseline_mb"]) / raw_mb))
    if ref and ref.get("cv_results"):
        print("per-candidate mean_test_score, max |Δ| against %s's cv_results_:" % ref["run"])
        for r in rows:
            if r is not ref and r.get("cv_results") and r.get("search") == "grid":
                d, n = compare_scores(ref["cv_results"], r["cv_results"])
                print("  %-32s %.2g over %d candidates" % (r["run"], d, n))
    for r in rows:
        if r.get("warning"):
            print(f"warning: {r['run']}: {r['warning']}")
        if r.get("kind") == "halving" and "n_candidates" in r:
            print(f"{r['run']}: candidates per iteration {r['n_candidates']}, samples {r['n_resources']}")


def main():
    what = sys.argv[1]
    if what == "ours":
        parse_ours(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6], float(sys.argv[7]), float(sys.argv[8]))
    elif what == "table":
        table(sys.argv[2], float(sys.argv[3]))
    else:
        run_peer(what, int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])


if __name__ == "__main__":
    main()
