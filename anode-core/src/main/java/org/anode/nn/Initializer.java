package org.anode.nn;

import java.util.SplittableRandom;
import org.anode.api.Shape;

/**
 * Initial values of a parameter, drawn in Java from a seeded generator so that every backend starts
 * from the same numbers. Fans follow PyTorch: for a weight {@code [out, in, kH, kW]}, {@code fanIn
 * = in·kH·kW} and {@code fanOut = out·kH·kW}; for a matrix {@code [out, in]} likewise.
 */
@FunctionalInterface
public interface Initializer {

  double[] values(SplittableRandom rng, Shape shape);

  /** Gain for ReLU layers, {@code √2}. */
  double RELU_GAIN = Math.sqrt(2.0);

  static int fanIn(Shape s) {
    return s.rank() < 2 ? s.dim(0) : (int) (s.numel() / s.dim(0));
  }

  static int fanOut(Shape s) {
    return s.rank() < 2 ? s.dim(0) : (int) (s.numel() / s.dim(1));
  }

  /** Kaiming (He et al. 2015) normal: {@code N(0, gain² / fanIn)}. */
  static Initializer kaimingNormal(double gain) {
    return (rng, s) -> {
      double std = gain / Math.sqrt(fanIn(s));
      double[] v = new double[(int) s.numel()];
      for (int i = 0; i < v.length; i++) {
        v[i] = std * gaussian(rng);
      }
      return v;
    };
  }

  /** Kaiming normal with the ReLU gain, fan-in mode. */
  static Initializer kaimingNormal() {
    return kaimingNormal(RELU_GAIN);
  }

  /** Xavier/Glorot (2010) uniform: {@code U(−a, a)}, {@code a = gain·√(6 / (fanIn + fanOut))}. */
  static Initializer xavierUniform(double gain) {
    return (rng, s) -> {
      double a = gain * Math.sqrt(6.0 / (fanIn(s) + fanOut(s)));
      return uniformValues(rng, s, a);
    };
  }

  /** {@code U(−bound, bound)}. */
  static Initializer uniform(double bound) {
    return (rng, s) -> uniformValues(rng, s, bound);
  }

  /** PyTorch's default for linear and conv layers and their biases: {@code U(±1/√fanIn)}. */
  static Initializer uniformFanIn(int fanIn) {
    return uniform(1.0 / Math.sqrt(fanIn));
  }

  static Initializer constant(double value) {
    return (rng, s) -> {
      double[] v = new double[(int) s.numel()];
      java.util.Arrays.fill(v, value);
      return v;
    };
  }

  private static double[] uniformValues(SplittableRandom rng, Shape s, double bound) {
    double[] v = new double[(int) s.numel()];
    for (int i = 0; i < v.length; i++) {
      v[i] = bound == 0 ? 0 : rng.nextDouble(-bound, bound);
    }
    return v;
  }

  /** A standard normal draw (Box–Muller), reproducible from the generator's state. */
  private static double gaussian(SplittableRandom rng) {
    double u1 = 1.0 - rng.nextDouble(); // (0, 1]
    double u2 = rng.nextDouble();
    return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
