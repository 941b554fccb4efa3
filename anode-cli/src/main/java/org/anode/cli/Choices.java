package org.anode.cli;

import java.util.Locale;
import java.util.function.Supplier;
import org.anode.ode.AsynchronousLeapfrog;
import org.anode.ode.DormandPrince5;
import org.anode.ode.Euler;
import org.anode.ode.GradientMethod;
import org.anode.ode.Heun;
import org.anode.ode.ReversibleHeun;
import org.anode.ode.RungeKutta2;
import org.anode.ode.RungeKutta4;
import org.anode.ode.Solver;

/** Parses the names of gradient methods and solvers used on the command line. */
public final class Choices {
  private Choices() {}

  /**
   * {@code anode}, {@code store-all}, {@code revolve:S}, {@code adjoint} or {@code reversible}
   * ({@link GradientMethod#named}); a fresh method for every block. The name is checked at once.
   */
  public static Supplier<GradientMethod> method(String name) {
    try {
      GradientMethod.named(name);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--method: " + e.getMessage(), e);
    }
    return () -> GradientMethod.named(name);
  }

  /**
   * {@code euler}, {@code rk2}, {@code heun}, {@code rk4}, {@code dopri5}, {@code alf} or {@code
   * reversible-heun}.
   */
  public static Supplier<Solver> solver(String name) {
    return solver(name, 1.0);
  }

  /** As {@link #solver(String)}, ALF with damping {@code eta} (checked at once). */
  public static Supplier<Solver> solver(String name, double eta) {
    String n = name.trim().toLowerCase(Locale.ROOT);
    if (eta != 1.0 && !n.equals("alf")) {
      throw new IllegalArgumentException("--eta is the damping of --solver alf, not of " + name);
    }
    return switch (n) {
      case "euler" -> Euler::new;
      case "rk2" -> RungeKutta2::new;
      case "heun" -> Heun::new;
      case "rk4" -> RungeKutta4::new;
      case "dopri5" -> DormandPrince5::new;
      case "alf" -> {
        try {
          new AsynchronousLeapfrog(eta);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("--eta: " + e.getMessage(), e);
        }
        yield () -> new AsynchronousLeapfrog(eta);
      }
      case "reversible-heun" -> ReversibleHeun::new;
      default ->
          throw new IllegalArgumentException(
              "--solver must be euler, rk2, heun, rk4, dopri5, alf or reversible-heun, got '"
                  + name
                  + "'");
    };
  }

  /** Comma-separated stage depths, such as {@code 1,1,1,1}. */
  static int[] depths(String s) {
    String[] parts = s.split(",", -1);
    int[] d = new int[parts.length];
    try {
      for (int i = 0; i < parts.length; i++) {
        d[i] = Integer.parseInt(parts[i].trim());
      }
    } catch (NumberFormatException e) {
      d = null;
    }
    if (d == null || d.length != 4 || java.util.Arrays.stream(d).anyMatch(x -> x < 1)) {
      throw new IllegalArgumentException(
          "--depths needs 4 comma-separated whole numbers ≥ 1 (ODE blocks per stage), got '"
              + s
              + "'");
    }
    return d;
  }
}
