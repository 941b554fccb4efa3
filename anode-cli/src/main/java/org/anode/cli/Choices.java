package org.anode.cli;

import java.util.Locale;
import java.util.function.Supplier;
import org.anode.ode.AdjointGradient;
import org.anode.ode.CheckpointedGradient;
import org.anode.ode.DormandPrince5;
import org.anode.ode.Euler;
import org.anode.ode.GradientMethod;
import org.anode.ode.Heun;
import org.anode.ode.RevolveGradient;
import org.anode.ode.RungeKutta2;
import org.anode.ode.RungeKutta4;
import org.anode.ode.Solver;
import org.anode.ode.StoreAllGradient;

/** Parses the names of gradient methods and solvers used on the command line. */
public final class Choices {
  private Choices() {}

  /** {@code anode}, {@code store-all}, {@code revolve:S} or {@code adjoint}. */
  public static Supplier<GradientMethod> method(String name) {
    String n = name.trim().toLowerCase(Locale.ROOT);
    if (n.equals("anode")) {
      return CheckpointedGradient::new;
    }
    if (n.equals("store-all")) {
      return StoreAllGradient::new;
    }
    if (n.equals("adjoint")) {
      return AdjointGradient::new;
    }
    if (n.startsWith("revolve:")) {
      int s;
      try {
        s = Integer.parseInt(n.substring("revolve:".length()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--method revolve:S needs an integer S, got " + name);
      }
      return () -> new RevolveGradient(s);
    }
    throw new IllegalArgumentException(
        "--method must be anode, store-all, revolve:S or adjoint, got '" + name + "'");
  }

  /** {@code euler}, {@code rk2}, {@code heun}, {@code rk4} or {@code dopri5}. */
  public static Supplier<Solver> solver(String name) {
    return switch (name.trim().toLowerCase(Locale.ROOT)) {
      case "euler" -> Euler::new;
      case "rk2" -> RungeKutta2::new;
      case "heun" -> Heun::new;
      case "rk4" -> RungeKutta4::new;
      case "dopri5" -> DormandPrince5::new;
      default ->
          throw new IllegalArgumentException(
              "--solver must be euler, rk2, heun, rk4 or dopri5, got '" + name + "'");
    };
  }

  /** Comma-separated stage depths, such as {@code 1,1,1,1}. */
  static int[] depths(String s) {
    String[] parts = s.split(",");
    if (parts.length != 4) {
      throw new IllegalArgumentException("--depths needs 4 comma-separated numbers, got " + s);
    }
    int[] d = new int[4];
    for (int i = 0; i < 4; i++) {
      d[i] = Integer.parseInt(parts[i].trim());
    }
    return d;
  }
}
