"""Reference runs of the adaptive solvers, for AdaptiveReferenceTest.

Dormand-Prince: scipy's solve_ivp(method="RK45") (Debian's python3-scipy 1.10.1): accepted steps are
len(sol.t) - 1, and as RK45 spends one evaluation on f(t0), one in select_initial_step and six per
tried step, rejected = (nfev - 2) / 6 - accepted.

MALI's ALF: TorchDiffEqPack (github.com/juntang-zhuang/TorchDiffEqPack at 7f21b89, which holds the
error-estimate fix 5a22bef) provides the step with its error estimate (sym12async_forward), the
initial step (select_initial_step_scipy) and the controller (adapt_stepsize); they are driven by
the step loop of scipy's RK45 (a step that would pass t1 ends at t1), which is what anode's
integrator does. TorchDiffEqPack's own loop ends differently (a last step to t1 without error
control), so it is not used. The state (z, v) starts with v = f(t0, z0); the error is that of z.

Run: /usr/bin/python3 adaptive_references.py PATH_TO_TorchDiffEqPack > adaptive-references.csv
"""
import math
import sys
import types

import numpy as np
import torch
from scipy.integrate import solve_ivp

torch.set_default_dtype(torch.float64)

# name, f(t, z) on numpy arrays, z0, t1, tolerances (rtol = atol)
PROBLEMS = [
    ("pulse", lambda t, z: -z + 10 * math.exp(-(((t - 1) / 0.1) ** 2)), [1.0], 2.0, [1e-6, 1e-8]),
    ("forced", lambda t, z: -2 * z + math.sin(t), [0.7], 1.5, [1e-4, 1e-7]),
    ("logistic", lambda t, z: 3 * z * (1 - z), [0.05, 0.3, 0.9], 4.0, [1e-5]),
]


def dopri(f, z0, t1, tol):
    sol = solve_ivp(f, (0.0, t1), np.array(z0), method="RK45", rtol=tol, atol=tol)
    assert sol.success, sol.message
    accepted = len(sol.t) - 1
    assert (sol.nfev - 2) % 6 == 0
    return accepted, (sol.nfev - 2) // 6 - accepted, sol.y[:, -1]


def alf(pack, f, z0, t1, tol):
    sys.path.insert(0, pack)
    # TorchDiffEqPack's misc.py imports matplotlib for plotting helpers that are not used here.
    for m in ("matplotlib", "matplotlib.pylab"):
        sys.modules.setdefault(m, types.ModuleType(m))
    from TorchDiffEqPack.odesolver.adaptive_grid_solver import AdaptiveGridSolver
    from TorchDiffEqPack.odesolver.symplectic import sym12async_forward

    def func(t, y):
        return tuple(torch.as_tensor(f(float(t), _y.numpy())) for _y in y)

    ctl = types.SimpleNamespace(rtol=tol, atol=tol, order=1, safety=0.9, func=func, time_direction=1.0)
    z = torch.tensor(z0)
    v = func(0.0, (z,))[0]
    h = AdaptiveGridSolver.select_initial_step_scipy(ctl, 0.0, (z,), func(0.0, (z,)))
    h = float(h)
    t, accepted, rejected = 0.0, 0, 0
    while t < t1:
        step_rejected = False
        while True:
            t_new = min(t + h, t1)
            h = t_new - t
            out, error, _ = sym12async_forward(func, t, h, (z, v), adaptive=True)
            ctl.rtol, ctl.atol = tol, tol
            h_next, accepted_now, step_rejected = AdaptiveGridSolver.adapt_stepsize(
                ctl, (z,), (out[0],), error, h, False, step_rejected
            )
            if accepted_now:
                break
            rejected += 1
            h = h_next
        z, v = out
        t = t_new
        accepted += 1
        h = h_next
    return accepted, rejected, z.numpy()


def main():
    pack = sys.argv[1]
    print("solver,problem,tol,accepted,rejected,z_end")
    for name, f, z0, t1, tols in PROBLEMS:
        for tol in tols:
            for solver, run in (("dopri5", lambda: dopri(f, z0, t1, tol)), ("alf", lambda: alf(pack, f, z0, t1, tol))):
                if solver == "alf" and tol < 1e-7:
                    continue  # ALF would need more than anode's default 10,000 steps
                accepted, rejected, z = run()
                print(f"{solver},{name},{tol:.0e},{accepted},{rejected}," + ";".join(repr(float(x)) for x in z))


if __name__ == "__main__":
    main()
