"""Placement benchmark on the synthetic world (truth known).

1. Off-policy evaluation: relative error of IPS / SNIPS / DM / DR for three evaluation policies at
   10k, 100k and 1M logged impressions, against the true policy value from Truth.p_click; the
   same arrays through Open Bandit Pipeline's estimators (run in a separate venv given by
   $OBP_PYTHON, default /tmp/obpenv/bin/python, because obp needs pandas<3) to check agreement.
2. Bandits: cumulative regret after 100k rounds of Thompson sampling, LinUCB, epsilon-greedy and
   uniform against the true click model (mean over seeds).

   Every policy meets the same rounds and the same click random numbers (common random
   numbers); Thompson sampling is reported in its non-contextual Beta-Bernoulli form
   ("thompson") and its contextual form on a linear model shared by the (ad, slot) arms
   ("linear_thompson").

Run: .venv/bin/python benchmarks/placement.py [--quick] [--bandits-only]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from adwise.data import generate_world, write_world  # noqa: E402
from adwise.placement import OffPolicyEvaluator, simulate  # noqa: E402

OBP_PY = os.environ.get("OBP_PYTHON", "/tmp/obpenv/bin/python")
OBP_SCRIPT = """
import sys, json, numpy as np
from obp.ope import (InverseProbabilityWeighting as IPW, DirectMethod as DM, DoublyRobust as DR,
                     SelfNormalizedInverseProbabilityWeighting as SNIPW)
z = np.load(sys.argv[1])
kw = dict(reward=z['r'], action=z['a'], pscore=z['ps'], position=z['pos'],
          action_dist=z['dist'], estimated_rewards_by_reg_model=z['q'])
print(json.dumps({n: float(e.estimate_policy_value(**kw)) for n, e in
                  (('ips', IPW()), ('snips', SNIPW()), ('dm', DM()), ('dr', DR()))}))
"""


def logs_from_truth(truth, users, n, rng):
    """Logged rounds drawn from the world's own logging policy (ads by policy_proba, slot
    uniform), with true click probabilities for every ad."""
    act = np.asarray(truth.user_activity, float)
    u = rng.choice(len(truth.user_ids), n, p=act / act.sum())
    hour, wday = rng.integers(0, 24, n), rng.integers(0, 7, n)
    slot = rng.integers(0, len(truth.slots), n)
    k = len(truth.ad_ids)
    pi0 = np.empty((n, k))
    ptrue = np.empty((n, k))
    for lo in range(0, n, 50_000):
        s = slice(lo, lo + 50_000)
        pi0[s] = truth.policy_proba(u[s])
        ptrue[s] = truth.p_click(u[s, None], np.arange(k)[None, :], slot[s, None],
                                 hour[s, None], wday[s, None])
    a = np.minimum((pi0.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1), k - 1)
    r = (rng.random(n) < ptrue[np.arange(n), a]).astype(float)
    uidx = truth.user_index(users["user_id"].astype(str))
    attrs = users.iloc[np.argsort(uidx)].reset_index(drop=True)
    ctx = attrs.iloc[u][["age_band", "gender", "region", "device"]].reset_index(drop=True)
    ctx["hour"], ctx["weekday"] = hour, wday
    return dict(u=u, a=a, r=r, pos=slot, ps=pi0[np.arange(n), a], pi0=pi0, ptrue=ptrue, ctx=ctx)


def policies(truth, logs):
    n, k = logs["pi0"].shape
    sharp = logs["pi0"] ** 2
    sharp /= sharp.sum(axis=1, keepdims=True)
    z = np.exp((truth.ad_quality - truth.ad_quality.max()) / 0.5)
    qual = np.repeat((z / z.sum())[None, :], n, axis=0)
    return {"uniform": np.full((n, k), 1.0 / k), "sharper logging": sharp,
            "quality softmax": qual}


def ope_bench(sizes, seed=0):
    world = generate_world(n_users=20_000, n_ads=20, days=1, seed=seed)
    truth, users = world.truth, world.users
    rows, agree = [], []
    for n in sizes:
        rng = np.random.default_rng(seed + n)
        logs = logs_from_truth(truth, users, n, rng)
        npos = len(truth.slots)
        t0 = time.perf_counter()
        ev = OffPolicyEvaluator(n_bootstrap=20 if n > 200_000 else 100, n_estimators=100,
                                random_state=seed).fit(
            logs["r"], logs["a"], logs["ps"], logs["ctx"], logs["pos"],
            n_actions=len(truth.ad_ids), n_positions=npos)
        fit_s = time.perf_counter() - t0
        for pname, pe in policies(truth, logs).items():
            true_v = float((pe * logs["ptrue"]).sum(axis=1).mean())
            dist = np.repeat(pe[:, :, None], npos, axis=2)
            res = ev.evaluate(dist)
            row = {"n": n, "policy": pname, "true": true_v, "fit_s": round(fit_s, 1),
                   "ess_ratio": res["ess_ratio"], "trustworthy": res["trustworthy"]}
            for e in ("ips", "snips", "dm", "dr"):
                row[e] = res[e]
                row[f"{e}_relerr"] = abs(res[e] - true_v) / true_v
                row[f"{e}_covers"] = res[f"{e}_ci_low"] <= true_v <= res[f"{e}_ci_high"]
            obp = run_obp(logs, dist, ev.q_hat_)
            if obp is not None:
                row["obp_dr_relerr"] = abs(obp["dr"] - true_v) / true_v
                agree.append(max(abs(obp[e] - res[e]) for e in obp))
            rows.append(row)
            print(f"n={n:>8} {pname:>16}: true {true_v:.5f}  "
                  + "  ".join(f"{e} {row[e + '_relerr']:.2%}" for e in ("ips", "snips", "dm", "dr"))
                  + (f"  obp-dr {row['obp_dr_relerr']:.2%}" if "obp_dr_relerr" in row else ""),
                  flush=True)
    return pd.DataFrame(rows), (max(agree) if agree else None)


def run_obp(logs, dist, q):
    if not Path(OBP_PY).exists():
        return None
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "arrays.npz"
        np.savez(f, r=logs["r"], a=logs["a"], ps=logs["ps"], pos=logs["pos"], dist=dist, q=q)
        out = subprocess.run([OBP_PY, "-c", OBP_SCRIPT, str(f)], capture_output=True, text=True)
    if out.returncode != 0:
        print("obp failed:", out.stderr.strip().splitlines()[-1:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def regret_bench(rounds, seeds):
    with tempfile.TemporaryDirectory() as d:
        write_world(d, n_users=5000, n_ads=200, days=2, seed=7)
        res = [simulate(d, rounds=rounds, seed=s,
                        policies=("thompson", "linear_thompson", "linucb", "epsilon_greedy",
                                  "uniform")) for s in seeds]
    names = list(res[0]["policies"])
    eg = np.array([r["policies"]["epsilon_greedy"]["regret"] for r in res])
    tab = pd.DataFrame({
        "policy": names,
        "regret": [np.mean([r["policies"][p]["regret"] for r in res]) for p in names],
        "regret_sd": [np.std([r["policies"][p]["regret"] for r in res]) for p in names],
        "oracle_regret": [np.mean([r["policies"][p]["oracle_regret"] for r in res])
                          for p in names],
        "ctr": [np.mean([r["policies"][p]["mean_reward"] for r in res]) for p in names],
    })
    tab["ratio_to_eps_greedy"] = tab["regret"] / eg.mean()
    # seeds on which the policy's regret is at most half of epsilon-greedy's
    tab["seeds_at_half_eg"] = [
        int(sum(r["policies"][p]["regret"] <= 0.5 * e for r, e in zip(res, eg, strict=True)))
        for p in names]
    per_seed = pd.DataFrame({p: [r["policies"][p]["regret"] for r in res] for p in names},
                            index=pd.Index(seeds, name="seed"))
    return tab, per_seed


def main() -> None:
    quick = "--quick" in sys.argv
    t0 = time.perf_counter()
    if "--bandits-only" not in sys.argv:
        sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
        ope, agree = ope_bench(sizes)
        cols = ["n", "policy", "true", "ips_relerr", "snips_relerr", "dm_relerr", "dr_relerr",
                "obp_dr_relerr", "dr_covers", "ess_ratio", "trustworthy", "fit_s"]
        cols = [c for c in cols if c in ope.columns]
        print("\nOPE relative error (|estimate - truth| / truth)")
        print(ope[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print(f"max |ours - obp| over all estimators and runs: {agree}")
    reg, per_seed = regret_bench(100_000 if not quick else 20_000,
                       seeds=list(range(10)) if not quick else [0])
    print("\nBandit cumulative regret after", 100_000 if not quick else 20_000, "rounds")
    print(reg.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nRegret per seed")
    print(per_seed.to_string(float_format=lambda v: f"{v:.1f}"))
    ts = float(reg.set_index("policy").loc["thompson", "regret"])
    eg = float(reg.set_index("policy").loc["epsilon_greedy", "regret"])
    lts = float(reg.set_index("policy").loc["linear_thompson", "regret"])
    print(f"TS / epsilon-greedy regret ratio: {ts / eg:.3f}; linear TS / epsilon-greedy: "
          f"{lts / eg:.3f}")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
