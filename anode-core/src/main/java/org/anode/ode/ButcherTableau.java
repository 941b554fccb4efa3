package org.anode.ode;

/**
 * Coefficients of an explicit Runge–Kutta method: stage {@code i} evaluates {@code k_i = f(t +
 * c_i·h, y + h·Σ_{j<i} a_ij·k_j)} and the step is {@code y + h·Σ_i b_i·k_i} (Butcher 2008,
 * "Numerical Methods for Ordinary Differential Equations", §23). Stages whose weight {@code b_i} is
 * zero and that no later stage uses are not evaluated.
 *
 * @param a the strictly lower-triangular stage matrix, one row per stage
 * @param b the weights of the solution
 * @param c the nodes
 */
public record ButcherTableau(double[][] a, double[] b, double[] c) {

  public ButcherTableau {
    int s = b.length;
    if (a.length != s || c.length != s) {
      throw new IllegalArgumentException("ButcherTableau: a, b and c must have one entry a stage");
    }
    for (int i = 0; i < s; i++) {
      if (a[i].length != i) {
        throw new IllegalArgumentException(
            "ButcherTableau: row " + i + " of a must have " + i + " entries (explicit method)");
      }
    }
  }

  public int stages() {
    return b.length;
  }
}
