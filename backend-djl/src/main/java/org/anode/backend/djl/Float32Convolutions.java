package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether libtorch's float32 convolutions can be trusted on this CPU, decided once per process.
 *
 * <p>libtorch 2.7.1's float32 convolutions go through oneDNN, and on some CPUs its kernels return
 * wrong numbers without an error: on an AMD Zen 5 (family 26, AVX-512) a forward convolution with
 * 24 input channels gave errors of order 1 and NaN, and the input gradient of a 3×3 stride-1
 * convolution with 5, 8 or 24 output channels errors of order 1 (oneDNN limited to SSE4.1 is right;
 * float64 does not use oneDNN and is right). So the backend probes such shapes at start against
 * float64 and, if they disagree, computes float32 convolutions in float64 (slower, exact to float32
 * round-off). {@code -Danode.djl.float32Convolutions=native|float64|auto} (default {@code auto})
 * overrides the probe.
 */
final class Float32Convolutions {
  static final String PROPERTY = "anode.djl.float32Convolutions";
  private static final Logger LOG = LoggerFactory.getLogger(Float32Convolutions.class);

  /** {x shape, w shape} pairs: channel counts that are not multiples of oneDNN's 16-lane blocks. */
  private static final long[][][] PROBES = {
    {{2, 24, 8, 8}, {16, 24, 3, 3}},
    {{2, 4, 7, 6}, {5, 4, 3, 3}},
    {{2, 8, 8, 8}, {8, 8, 3, 3}},
    {{2, 16, 8, 8}, {24, 16, 3, 3}}
  };

  private static volatile Boolean widen;

  private Float32Convolutions() {}

  /** True when float32 convolutions must be computed in float64 on this process's CPU. */
  static boolean mustWiden(NDManager manager) {
    Boolean w = widen;
    if (w == null) {
      synchronized (Float32Convolutions.class) {
        if (widen == null) {
          widen = decide(manager);
        }
        w = widen;
      }
    }
    return w;
  }

  private static boolean decide(NDManager manager) {
    String mode = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
    switch (mode) {
      case "native":
        return false;
      case "float64":
        return true;
      case "auto":
        break;
      default:
        throw new IllegalArgumentException(
            "-D" + PROPERTY + " must be native, float64 or auto, got '" + mode + "'");
    }
    double worst = 0;
    for (long[][] p : PROBES) {
      worst = Math.max(worst, probe(manager, new Shape(p[0]), new Shape(p[1])));
    }
    boolean broken = !(worst <= 1e-3);
    if (broken) {
      LOG.warn(
          "libtorch's float32 convolutions are wrong on this CPU (relative error {} against"
              + " float64); anode computes them in float64 (-D{}=native to override)",
          worst,
          PROPERTY);
    }
    return broken;
  }

  /** Largest relative error of forward, input and weight gradient, float32 against float64. */
  private static double probe(NDManager parent, Shape xs, Shape ws) {
    try (NDManager m = parent.newSubManager()) {
      NDArray x64 = m.arange(0, (int) xs.size(), 1, DataType.FLOAT64).sin().reshape(xs);
      NDArray w64 = m.arange(0, (int) ws.size(), 1, DataType.FLOAT64).cos().reshape(ws);
      double[][] f64 = forwardAndGradients(x64, w64);
      double[][] f32 =
          forwardAndGradients(
              x64.toType(DataType.FLOAT32, true), w64.toType(DataType.FLOAT32, true));
      double worst = 0;
      for (int k = 0; k < f64.length; k++) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < f64[k].length; i++) {
          double d = f32[k][i] - f64[k][i];
          num += d * d;
          den += f64[k][i] * f64[k][i];
        }
        double err = Math.sqrt(num / Math.max(den, 1e-300));
        worst = Double.isNaN(err) ? Double.POSITIVE_INFINITY : Math.max(worst, err);
      }
      return worst;
    }
  }

  private static double[][] forwardAndGradients(NDArray x, NDArray w) {
    boolean previous = JniUtils.isGradMode();
    JniUtils.setGradMode(true);
    try (PtNDArray xa = (PtNDArray) x.stopGradient();
        PtNDArray wa = (PtNDArray) w.stopGradient()) {
      JniUtils.attachGradient(xa, true);
      JniUtils.attachGradient(wa, true);
      try (PtNDArray y =
          JniUtils.convolution(
              xa, wa, null, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1)) {
        double[] out = y.toType(DataType.FLOAT64, true).toDoubleArray();
        try (NDArray g =
            y.getManager()
                .arange(0, (int) y.size(), 1, y.getDataType())
                .mul(0.37)
                .cos()
                .reshape(y.getShape())) {
          JniUtils.backward(y, (PtNDArray) g, false, false);
        }
        return new double[][] {
          out,
          JniUtils.getGradient(xa).toType(DataType.FLOAT64, true).toDoubleArray(),
          JniUtils.getGradient(wa).toType(DataType.FLOAT64, true).toDoubleArray()
        };
      }
    } finally {
      JniUtils.setGradMode(previous);
    }
  }
}
