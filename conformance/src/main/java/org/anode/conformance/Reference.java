package org.anode.conformance;

import org.anode.api.Conv2dSpec;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;

/**
 * Naive float64 reference implementations in plain Java: the independent answer that every
 * backend's native kernels are compared with. Slow and obviously correct, by design.
 */
public final class Reference {
  private Reference() {}

  public static double[] conv2d(
      double[] x, Shape xs, double[] w, Shape ws, double[] b, Conv2dSpec s) {
    Shape os = s.outputShape(xs, ws);
    int n = xs.dim(0), cin = xs.dim(1), h = xs.dim(2), wd = xs.dim(3);
    int cout = ws.dim(0), cg = ws.dim(1), kh = ws.dim(2), kw = ws.dim(3);
    int oh = os.dim(2), ow = os.dim(3);
    int coutPerGroup = cout / s.groups();
    double[] y = new double[(int) os.numel()];
    // Each batch entry on its own thread: the order of every sum is the same as in one.
    java.util.stream.IntStream.range(0, n)
        .parallel()
        .forEach(
            in -> {
              for (int co = 0; co < cout; co++) {
                int g = co / coutPerGroup;
                for (int i = 0; i < oh; i++) {
                  for (int j = 0; j < ow; j++) {
                    double acc = b == null ? 0 : b[co];
                    for (int c = 0; c < cg; c++) {
                      int ci = g * cg + c;
                      for (int p = 0; p < kh; p++) {
                        int r = i * s.strideH() - s.padH() + p * s.dilationH();
                        if (r < 0 || r >= h) {
                          continue;
                        }
                        for (int q = 0; q < kw; q++) {
                          int col = j * s.strideW() - s.padW() + q * s.dilationW();
                          if (col < 0 || col >= wd) {
                            continue;
                          }
                          acc +=
                              x[((in * cin + ci) * h + r) * wd + col]
                                  * w[((co * cg + c) * kh + p) * kw + q];
                        }
                      }
                    }
                    y[((in * cout + co) * oh + i) * ow + j] = acc;
                  }
                }
              }
            });
    return y;
  }

  /**
   * The input gradient of {@link #conv2d}: {@code gx[n, ci, r, c] = Σ g[n, co, i, j] · w[co, ci −
   * g·cg, p, q]} over the outputs {@code (i, j)} whose window reads {@code (r, c)} at tap {@code
   * (p, q)}. Each batch entry is summed on its own thread (the order of every sum is fixed).
   */
  public static double[] conv2dBackwardInput(
      double[] g, double[] w, Shape ws, Shape xs, Conv2dSpec s) {
    Shape os = s.outputShape(xs, ws);
    int n = xs.dim(0), cin = xs.dim(1), h = xs.dim(2), wd = xs.dim(3);
    int cout = ws.dim(0), cg = ws.dim(1), kh = ws.dim(2), kw = ws.dim(3);
    int oh = os.dim(2), ow = os.dim(3);
    int coutPerGroup = cout / s.groups();
    double[] gx = new double[(int) xs.numel()];
    java.util.stream.IntStream.range(0, n)
        .parallel()
        .forEach(
            in -> {
              for (int co = 0; co < cout; co++) {
                int grp = co / coutPerGroup;
                for (int i = 0; i < oh; i++) {
                  for (int j = 0; j < ow; j++) {
                    double gy = g[((in * cout + co) * oh + i) * ow + j];
                    for (int c = 0; c < cg; c++) {
                      int ci = grp * cg + c;
                      for (int p = 0; p < kh; p++) {
                        int r = i * s.strideH() - s.padH() + p * s.dilationH();
                        if (r < 0 || r >= h) {
                          continue;
                        }
                        for (int q = 0; q < kw; q++) {
                          int col = j * s.strideW() - s.padW() + q * s.dilationW();
                          if (col < 0 || col >= wd) {
                            continue;
                          }
                          gx[((in * cin + ci) * h + r) * wd + col] +=
                              gy * w[((co * cg + c) * kh + p) * kw + q];
                        }
                      }
                    }
                  }
                }
              }
            });
    return gx;
  }

  /**
   * The weight gradient of {@link #conv2d}: {@code gw[co, c, p, q] = Σ_{n,i,j} g[n, co, i, j] ·
   * x[n, ci, i·s − pad + p·d, j·s − pad + q·d]}. Each output channel is summed on its own thread.
   */
  public static double[] conv2dBackwardWeight(
      double[] x, Shape xs, double[] g, Shape ws, Conv2dSpec s) {
    Shape os = s.outputShape(xs, ws);
    int n = xs.dim(0), cin = xs.dim(1), h = xs.dim(2), wd = xs.dim(3);
    int cout = ws.dim(0), cg = ws.dim(1), kh = ws.dim(2), kw = ws.dim(3);
    int oh = os.dim(2), ow = os.dim(3);
    int coutPerGroup = cout / s.groups();
    double[] gw = new double[(int) ws.numel()];
    java.util.stream.IntStream.range(0, cout)
        .parallel()
        .forEach(
            co -> {
              int grp = co / coutPerGroup;
              for (int c = 0; c < cg; c++) {
                int ci = grp * cg + c;
                for (int p = 0; p < kh; p++) {
                  for (int q = 0; q < kw; q++) {
                    double acc = 0;
                    for (int in = 0; in < n; in++) {
                      for (int i = 0; i < oh; i++) {
                        int r = i * s.strideH() - s.padH() + p * s.dilationH();
                        if (r < 0 || r >= h) {
                          continue;
                        }
                        for (int j = 0; j < ow; j++) {
                          int col = j * s.strideW() - s.padW() + q * s.dilationW();
                          if (col < 0 || col >= wd) {
                            continue;
                          }
                          acc +=
                              g[((in * cout + co) * oh + i) * ow + j]
                                  * x[((in * cin + ci) * h + r) * wd + col];
                        }
                      }
                    }
                    gw[((co * cg + c) * kh + p) * kw + q] = acc;
                  }
                }
              }
            });
    return gw;
  }

  public static double[] avgPool2d(double[] x, Shape xs, Pool2dSpec s) {
    Shape os = s.outputShape(xs);
    int n = xs.dim(0), c = xs.dim(1), h = xs.dim(2), w = xs.dim(3);
    int oh = os.dim(2), ow = os.dim(3);
    double[] y = new double[(int) os.numel()];
    for (int nc = 0; nc < n * c; nc++) {
      for (int i = 0; i < oh; i++) {
        for (int j = 0; j < ow; j++) {
          double acc = 0;
          for (int p = 0; p < s.kernelH(); p++) {
            for (int q = 0; q < s.kernelW(); q++) {
              int r = i * s.strideH() - s.padH() + p;
              int col = j * s.strideW() - s.padW() + q;
              if (r >= 0 && r < h && col >= 0 && col < w) {
                acc += x[(nc * h + r) * w + col];
              }
            }
          }
          y[(nc * oh + i) * ow + j] = acc / (s.kernelH() * s.kernelW());
        }
      }
    }
    return y;
  }

  public static double[] matmul(double[] a, double[] b, int m, int k, int n) {
    double[] c = new double[m * n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double acc = 0;
        for (int p = 0; p < k; p++) {
          acc += a[i * k + p] * b[p * n + j];
        }
        c[i * n + j] = acc;
      }
    }
    return c;
  }

  public static double[] logSoftmaxRows(double[] x, int rows, int cols) {
    double[] y = new double[x.length];
    for (int r = 0; r < rows; r++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int c = 0; c < cols; c++) {
        max = Math.max(max, x[r * cols + c]);
      }
      double sum = 0;
      for (int c = 0; c < cols; c++) {
        sum += Math.exp(x[r * cols + c] - max);
      }
      double logSum = Math.log(sum); // (x − max) − log Σ: max + log Σ would round log Σ away
      for (int c = 0; c < cols; c++) {
        y[r * cols + c] = (x[r * cols + c] - max) - logSum;
      }
    }
    return y;
  }

  /** Elementwise {@code op(a, b)} with explicit broadcasting (equal ranks, or a rank-0 operand). */
  public static double[] broadcast(
      double[] a, Shape sa, double[] b, Shape sb, java.util.function.DoubleBinaryOperator op) {
    Shape out = org.anode.api.Checks.broadcast("reference", sa, sb);
    int rank = out.rank();
    double[] y = new double[(int) out.numel()];
    int[] idx = new int[rank];
    for (int i = 0; i < y.length; i++) {
      int rem = i;
      for (int d = rank - 1; d >= 0; d--) {
        idx[d] = rem % out.dim(d);
        rem /= out.dim(d);
      }
      y[i] = op.applyAsDouble(a[offset(sa, idx)], b[offset(sb, idx)]);
    }
    return y;
  }

  private static int offset(Shape s, int[] idx) {
    if (s.rank() == 0) {
      return 0;
    }
    int off = 0;
    for (int d = 0; d < s.rank(); d++) {
      off = off * s.dim(d) + (s.dim(d) == 1 ? 0 : idx[d]);
    }
    return off;
  }

  /** Reduction of {@code x} over {@code axes} with {@code op} from {@code init}, keeping dims. */
  public static double[] reduce(
      double[] x, Shape s, int[] axes, double init, java.util.function.DoubleBinaryOperator op) {
    Shape out = org.anode.api.Checks.reducedShape(s, axes, true);
    double[] y = new double[(int) out.numel()];
    java.util.Arrays.fill(y, init);
    int rank = s.rank();
    int[] idx = new int[rank];
    for (int i = 0; i < x.length; i++) {
      int rem = i;
      for (int d = rank - 1; d >= 0; d--) {
        idx[d] = rem % s.dim(d);
        rem /= s.dim(d);
      }
      int o = offset(out, idx);
      y[o] = op.applyAsDouble(y[o], x[i]);
    }
    return y;
  }

  /** {@code x} with axes reordered: output axis {@code i} is input axis {@code perm[i]}. */
  public static double[] permute(double[] x, Shape s, int[] perm) {
    int rank = s.rank();
    int[] outDims = new int[rank];
    for (int i = 0; i < rank; i++) {
      outDims[i] = s.dim(perm[i]);
    }
    double[] y = new double[x.length];
    int[] idx = new int[rank];
    for (int i = 0; i < x.length; i++) {
      int rem = i;
      for (int d = rank - 1; d >= 0; d--) {
        idx[d] = rem % outDims[d];
        rem /= outDims[d];
      }
      int src = 0;
      int[] inIdx = new int[rank];
      for (int d = 0; d < rank; d++) {
        inIdx[perm[d]] = idx[d];
      }
      for (int d = 0; d < rank; d++) {
        src = src * s.dim(d) + inIdx[d];
      }
      y[i] = x[src];
    }
    return y;
  }
}
