package org.anode.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.anode.api.Backend;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.autodiff.GradientCheck;

/**
 * Checks of {@link BackendConformanceSuite} for the fused kernels of the SPI ({@link
 * Backend#reluBackward}, {@link Backend#addScaled}, {@link Backend#conv2dRelu}, {@link
 * Backend#batchNorm} and its backward): a backend that overrides a default must give what the
 * default's composition gives, within {@code tol} relative (float64 1e-12, float32 1e-5), and the
 * composition itself must give the plain-Java value.
 */
final class FusedKernelChecks {
  private FusedKernelChecks() {}

  /** Images of the benchmark's layout (NCHW, more than one channel) and a plain matrix. */
  private static final List<Shape> SHAPES = List.of(Shape.of(2, 5, 4, 3), Shape.of(7, 6));

  private static double[] values(SplittableRandom rng, int n) {
    double[] d = new double[n];
    for (int i = 0; i < n; i++) {
      d[i] = rng.nextDouble(-1, 1);
    }
    return d;
  }

  private static Tensor tensor(Backend be, double[] data, Shape shape, DType dtype) {
    Tensor t = be.fromArray(data, shape);
    return dtype == DType.FLOAT64 ? t : be.cast(t, dtype);
  }

  private static double[] rounded(double[] d, DType dtype) {
    double[] r = d.clone();
    if (dtype == DType.FLOAT32) {
      for (int i = 0; i < r.length; i++) {
        r[i] = (float) r[i];
      }
    }
    return r;
  }

  private static void close(String what, double[] expected, Tensor actual, double tol) {
    double err = GradientCheck.relativeError(expected, actual.toDoubleArray());
    assertTrue(err <= tol, what + " (" + actual.dtype() + "): relative error " + err);
  }

  /**
   * ReLU's gradient from ReLU's output, with outputs exactly 0 (from negative inputs and from −0)
   * where the gradient must be 0, against plain Java and against the default's composition.
   */
  static void reluBackward(Backend be, DType dtype, double tol) {
    SplittableRandom rng = new SplittableRandom(11);
    for (Shape s : SHAPES) {
      int n = (int) s.numel();
      double[] x = rounded(values(rng, n), dtype);
      x[0] = -0.0;
      x[1] = 0.0;
      double[] g = rounded(values(rng, n), dtype);
      double[] expected = new double[n];
      for (int i = 0; i < n; i++) {
        expected[i] = x[i] > 0 ? g[i] : 0;
      }
      Tensor y = be.relu(tensor(be, x, s, dtype));
      Tensor tg = tensor(be, g, s, dtype);
      Tensor fused = be.reluBackward(y, tg);
      assertEquals(dtype, fused.dtype(), "reluBackward: dtype");
      assertEquals(s, fused.shape(), "reluBackward: shape");
      close("reluBackward " + s, expected, fused, tol);
      Tensor zero = be.scalar(0.0, dtype);
      close(
          "reluBackward against g × (y > 0) " + s,
          be.mul(tg, be.greaterThan(y, zero)).toDoubleArray(),
          fused,
          tol);
    }
    Tensor y = be.zeros(Shape.of(2, 3), dtype);
    assertThrows(
        IllegalArgumentException.class,
        () -> be.reluBackward(y, be.zeros(Shape.of(3, 2), dtype)),
        "reluBackward: gradient of another shape");
  }

  /**
   * {@code base + Σ cᵢ·kᵢ} for one term (Euler), four (RK4's weights, one of them zero, one 1) and
   * none, against plain Java and the default's composition; the result is a new tensor.
   */
  static void addScaled(Backend be, DType dtype, double tol) {
    SplittableRandom rng = new SplittableRandom(12);
    double[][] weights = {{0.125}, {1 / 6.0, 0, 1.0, -0.375}, {}};
    for (Shape s : SHAPES) {
      int n = (int) s.numel();
      for (double[] c : weights) {
        double[] base = rounded(values(rng, n), dtype);
        double[][] k = new double[c.length][];
        Tensor[] terms = new Tensor[c.length];
        double[] expected = base.clone();
        for (int i = 0; i < c.length; i++) {
          k[i] = rounded(values(rng, n), dtype);
          terms[i] = tensor(be, k[i], s, dtype);
          for (int e = 0; e < n; e++) {
            expected[e] += c[i] * k[i][e];
          }
        }
        Tensor tb = tensor(be, base, s, dtype);
        Tensor out = be.addScaled(tb, c, List.of(terms));
        assertEquals(dtype, out.dtype(), "addScaled: dtype");
        assertEquals(s, out.shape(), "addScaled: shape");
        String what = "addScaled with " + c.length + " terms " + s;
        close(what, expected, out, tol);
        Tensor composed = tb;
        for (int i = 0; i < c.length; i++) {
          composed = be.add(composed, be.mulScalar(terms[i], c[i]));
        }
        close(what + " against its composition", composed.toDoubleArray(), out, tol);
        out.close();
        close(what + ": base untouched", base, tb, 0);
      }
    }
    Tensor base = be.zeros(Shape.of(2, 3), dtype);
    assertThrows(
        IllegalArgumentException.class,
        () -> be.addScaled(base, new double[] {1}, List.of(be.zeros(Shape.of(3, 2), dtype))),
        "addScaled: a term of another shape");
    assertThrows(
        IllegalArgumentException.class,
        () -> be.addScaled(base, new double[] {1, 2}, List.of(base)),
        "addScaled: more coefficients than terms");
  }

  /**
   * A convolution and the ReLU after it, with and without bias, stride 1 and 2, at 16 and 32
   * channels (whole blocks for backends with blocked kernels) and at 3: against the composition
   * {@code relu(conv2d(...))}, with exact zeros where the pre-activation is not positive, and
   * against plain Java for one small case; NaN where the composition has it (a NaN weight).
   */
  static void conv2dRelu(Backend be, DType dtype, double tol) {
    SplittableRandom rng = new SplittableRandom(13);
    record Case(Shape x, Shape w, boolean bias, Conv2dSpec spec) {}
    List<Case> cases =
        List.of(
            new Case(Shape.of(2, 16, 9, 8), Shape.of(32, 16, 3, 3), true, Conv2dSpec.of(1, 1)),
            new Case(Shape.of(2, 32, 9, 8), Shape.of(16, 32, 3, 3), false, Conv2dSpec.of(2, 1)),
            new Case(Shape.of(2, 3, 5, 4), Shape.of(4, 3, 3, 3), true, Conv2dSpec.of(1, 0)));
    for (Case c : cases) {
      Tensor x = tensor(be, rounded(values(rng, (int) c.x().numel()), dtype), c.x(), dtype);
      Tensor w = tensor(be, rounded(values(rng, (int) c.w().numel()), dtype), c.w(), dtype);
      Tensor b =
          c.bias()
              ? tensor(be, rounded(values(rng, c.w().dim(0)), dtype), Shape.of(c.w().dim(0)), dtype)
              : null;
      Tensor fused = be.conv2dRelu(x, w, b, c.spec());
      Shape out = c.spec().outputShape(c.x(), c.w());
      assertEquals(dtype, fused.dtype(), "conv2dRelu: dtype");
      assertEquals(out, fused.shape(), "conv2dRelu: shape");
      double[] composed = be.relu(be.conv2d(x, w, b, c.spec())).toDoubleArray();
      double[] got = fused.toDoubleArray();
      String what = "conv2dRelu " + c.x() + " * " + c.w() + " " + c.spec();
      close(what + " against relu(conv2d)", composed, fused, tol);
      for (int i = 0; i < got.length; i++) {
        if (composed[i] == 0) {
          assertEquals(0.0, got[i], 0.0, what + ": zero where the pre-activation is not positive");
        }
      }
      if (c.x().dim(1) == 3) {
        close(what + " against plain Java", plainConvRelu(x, w, b, c.spec()), fused, tol);
      }
    }
    // A NaN weight: ReLU keeps NaN on every backend, so the fused kernel must too (oneDNN's ReLU
    // post-op, max(x, 0), turned it into 0 and hid the NaN).
    Shape nx = Shape.of(2, 16, 6, 6);
    Shape nw = Shape.of(16, 16, 3, 3);
    double[] wv = rounded(values(rng, (int) nw.numel()), dtype);
    wv[0] = Double.NaN;
    Tensor x = tensor(be, rounded(values(rng, (int) nx.numel()), dtype), nx, dtype);
    Tensor w = tensor(be, wv, nw, dtype);
    double[] composed = be.relu(be.conv2d(x, w, null, Conv2dSpec.of(1, 1))).toDoubleArray();
    double[] got = be.conv2dRelu(x, w, null, Conv2dSpec.of(1, 1)).toDoubleArray();
    int nans = 0;
    for (int i = 0; i < got.length; i++) {
      assertEquals(
          Double.isNaN(composed[i]),
          Double.isNaN(got[i]),
          "conv2dRelu with a NaN weight: NaN at " + i + " as relu(conv2d) has it");
      nans += Double.isNaN(got[i]) ? 1 : 0;
    }
    assertTrue(nans > 0, "conv2dRelu with a NaN weight: its output channel is NaN");
    assertThrows(
        IllegalArgumentException.class,
        () ->
            be.conv2dRelu(
                be.zeros(Shape.of(1, 3, 4, 4), dtype),
                be.zeros(Shape.of(2, 4, 3, 3), dtype),
                null,
                Conv2dSpec.defaults()),
        "conv2dRelu: weight of other input channels");
  }

  /** relu(conv2d) in plain Java, one group, no dilation. */
  private static double[] plainConvRelu(Tensor xt, Tensor wt, Tensor bt, Conv2dSpec s) {
    double[] x = xt.toDoubleArray();
    double[] w = wt.toDoubleArray();
    double[] b = bt == null ? null : bt.toDoubleArray();
    Shape xs = xt.shape();
    Shape ws = wt.shape();
    Shape ys = s.outputShape(xs, ws);
    int n = xs.dim(0), ci = xs.dim(1), h = xs.dim(2), wd = xs.dim(3);
    int co = ws.dim(0), kh = ws.dim(2), kw = ws.dim(3), oh = ys.dim(2), ow = ys.dim(3);
    double[] y = new double[(int) ys.numel()];
    for (int in = 0; in < n; in++) {
      for (int o = 0; o < co; o++) {
        for (int i = 0; i < oh; i++) {
          for (int j = 0; j < ow; j++) {
            double acc = b == null ? 0 : b[o];
            for (int c = 0; c < ci; c++) {
              for (int p = 0; p < kh; p++) {
                for (int q = 0; q < kw; q++) {
                  int r = i * s.strideH() - s.padH() + p;
                  int t = j * s.strideW() - s.padW() + q;
                  if (r >= 0 && r < h && t >= 0 && t < wd) {
                    acc +=
                        x[((in * ci + c) * h + r) * wd + t] * w[((o * ci + c) * kh + p) * kw + q];
                  }
                }
              }
            }
            y[((in * co + o) * oh + i) * ow + j] = Math.max(acc, 0);
          }
        }
      }
    }
    return y;
  }

  /**
   * Batch normalization in training mode and its three gradients, at 16 channels (whole blocks for
   * backends with blocked kernels) and at 5, against plain Java: the output, the batch's mean and
   * biased variance, and ∂x, ∂γ, ∂β by the closed form; a gradient not asked for is null.
   */
  static void batchNorm(Backend be, DType dtype, double tol) {
    SplittableRandom rng = new SplittableRandom(14);
    double eps = 1e-5;
    for (Shape s : List.of(Shape.of(4, 16, 5, 6), Shape.of(3, 5, 4, 4))) {
      int c = s.dim(1);
      int hw = s.dim(2) * s.dim(3);
      int n = s.dim(0);
      double m = (double) n * hw;
      double[] x = rounded(values(rng, (int) s.numel()), dtype);
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) (x[i] * 3 + 0.5); // a mean and a spread other than 0 and 1
      }
      double[] gamma = rounded(values(rng, c), dtype);
      double[] beta = rounded(values(rng, c), dtype);
      double[] g = rounded(values(rng, (int) s.numel()), dtype);
      double[] mean = new double[c];
      double[] var = new double[c];
      for (int i = 0; i < x.length; i++) {
        mean[(i / hw) % c] += x[i] / m;
      }
      for (int i = 0; i < x.length; i++) {
        double d = x[i] - mean[(i / hw) % c];
        var[(i / hw) % c] += d * d / m;
      }
      double[] y = new double[x.length];
      double[] xhat = new double[x.length];
      double[] dBeta = new double[c];
      double[] dGamma = new double[c];
      for (int i = 0; i < x.length; i++) {
        int ch = (i / hw) % c;
        xhat[i] = (x[i] - mean[ch]) / Math.sqrt(var[ch] + eps);
        y[i] = gamma[ch] * xhat[i] + beta[ch];
        dBeta[ch] += g[i];
        dGamma[ch] += g[i] * xhat[i];
      }
      double[] dx = new double[x.length];
      for (int i = 0; i < x.length; i++) {
        int ch = (i / hw) % c;
        dx[i] =
            gamma[ch]
                / (m * Math.sqrt(var[ch] + eps))
                * (m * g[i] - dBeta[ch] - xhat[i] * dGamma[ch]);
      }
      Tensor tx = tensor(be, x, s, dtype);
      Tensor tGamma = tensor(be, gamma, Shape.of(c), dtype);
      Backend.BatchNormResult r =
          be.batchNorm(tx, tGamma, tensor(be, beta, Shape.of(c), dtype), eps);
      String what = "batchNorm " + s;
      assertEquals(s, r.output().shape(), what + ": output shape");
      assertEquals(Shape.of(c), r.mean().shape(), what + ": mean shape");
      close(what + " output", y, r.output(), tol);
      close(what + " mean", mean, r.mean(), tol);
      close(what + " variance", var, r.variance(), tol);
      Tensor tg = tensor(be, g, s, dtype);
      Backend.BatchNormGradients all =
          be.batchNormBackward(tx, tGamma, r.mean(), r.variance(), eps, tg, true, true, true);
      close(what + " input gradient", dx, all.input(), tol);
      close(what + " gamma gradient", dGamma, all.gamma(), tol);
      close(what + " beta gradient", dBeta, all.beta(), tol);
      Backend.BatchNormGradients some =
          be.batchNormBackward(tx, tGamma, r.mean(), r.variance(), eps, tg, false, true, false);
      assertTrue(some.input() == null && some.beta() == null, what + ": unwanted gradients null");
      close(what + " gamma gradient alone", dGamma, some.gamma(), tol);
    }
    assertThrows(
        IllegalArgumentException.class,
        () ->
            be.batchNorm(
                be.zeros(Shape.of(2, 3, 4, 4), dtype),
                be.zeros(Shape.of(4), dtype),
                be.zeros(Shape.of(3), dtype),
                1e-5),
        "batchNorm: γ of another channel count");
  }
}
