package org.anode.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.TensorScope;
import org.anode.autodiff.Variable;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.junit.jupiter.api.Test;

/**
 * Parameter counts against counts computed by hand from the architecture. ODE-ResNet18 has exactly
 * ResNet18's 11,173,962 parameters on CIFAR-10: each stage's ODE field has the two 3×3 convs and
 * two batch norms of the basic block it replaces.
 */
class ParameterCountTest {
  final Backend be = Backends.get();

  static int sc(int c, double w) {
    return Math.max(1, (int) Math.round(c * w));
  }

  /** Conv k-taps with or without bias, plus BN (γ, β). */
  static long convBn(long in, long out, long taps, boolean bias) {
    return in * out * taps + (bias ? out : 0) + 2 * out;
  }

  static long resnet(double w, int[] depths, int classes) {
    long n = 0;
    int in = sc(64, w);
    n += convBn(3, in, 9, false);
    int[] ch = {64, 128, 256, 512};
    int[] st = {1, 2, 2, 2};
    for (int s = 0; s < 4; s++) {
      int out = sc(ch[s], w);
      n += convBn(in, out, 9, false) + convBn(out, out, 9, false);
      if (st[s] != 1 || in != out) {
        n += convBn(in, out, 1, false);
      }
      n += depths[s] * 2 * convBn(out, out, 9, false);
      in = out;
    }
    return n + (long) in * classes + classes;
  }

  static long sqnxtBlock(int in, int out, int stride, double r, boolean shortcut) {
    int red = Math.max(1, (int) (in * r));
    int half = Math.max(1, (int) (in * r * 0.5));
    long n =
        convBn(in, red, 1, true)
            + convBn(red, half, 1, true)
            + convBn(half, red, 3, true)
            + convBn(red, red, 3, true)
            + convBn(red, out, 1, true);
    if (shortcut && (stride != 1 || in != out)) {
      n += convBn(in, out, 1, true);
    }
    return n;
  }

  static long sqnxt(double w, int[] depths, int classes) {
    long n = 0;
    int in = sc(64, w);
    n += convBn(3, in, 9, true);
    int[] ch = {32, 64, 128, 256};
    int[] st = {1, 2, 2, 2};
    for (int s = 0; s < 4; s++) {
      int out = sc(ch[s], w);
      double r = in > out ? 0.25 : st[s] == 2 ? 1.0 : 0.5;
      n += sqnxtBlock(in, out, st[s], r, true);
      n += depths[s] * sqnxtBlock(out, out, 1, 0.5, false);
      in = out;
    }
    int head = sc(128, w);
    return n + convBn(in, head, 1, true) + (long) head * classes + classes;
  }

  long count(Module m) {
    long n = m.parameterCount();
    m.close();
    return n;
  }

  ParameterFactory f() {
    return new ParameterFactory(be, DType.FLOAT32, 1);
  }

  @Test
  void odeResNetCounts() {
    int[] ones = {1, 1, 1, 1};
    assertEquals(11_173_962L, resnet(1, ones, 10));
    assertEquals(11_173_962L, count(new OdeResNet(f(), 10, 1, ones, OdeSettings.defaults())));
    assertEquals(701_466L, count(new OdeResNet(f(), 10, 0.25, ones, OdeSettings.defaults())));
    int[] deep = {2, 1, 3, 1};
    assertEquals(
        resnet(0.125, deep, 100),
        count(new OdeResNet(f(), 100, 0.125, deep, OdeSettings.defaults())));
  }

  @Test
  void odeSqueezeNextCounts() {
    int[] ones = {1, 1, 1, 1};
    assertEquals(461_466L, sqnxt(1, ones, 10));
    assertEquals(461_466L, count(new OdeSqueezeNext(f(), 10, 1, ones, OdeSettings.defaults())));
    assertEquals(118_610L, count(new OdeSqueezeNext(f(), 10, 0.5, ones, OdeSettings.defaults())));
    int[] two = {2, 2, 2, 2};
    assertEquals(672_876L, sqnxt(1, two, 100));
    assertEquals(672_876L, count(new OdeSqueezeNext(f(), 100, 1, two, OdeSettings.defaults())));
  }

  @Test
  void smallModelsRunOnCifarShapes() {
    try (TensorScope scope = TensorScope.open()) {
      int[] ones = {1, 1, 1, 1};
      for (Module m :
          new Module[] {
            new OdeResNet(f(), 10, 0.125, ones, OdeSettings.defaults()),
            new OdeSqueezeNext(f(), 10, 0.25, ones, OdeSettings.defaults())
          }) {
        Variable x = Variable.constant(be.zeros(Shape.of(2, 3, 32, 32), DType.FLOAT32));
        assertEquals(Shape.of(2, 10), m.forward(x).shape());
        m.close();
      }
    }
  }
}
