package org.anode.models;

import org.anode.api.Conv2dSpec;
import org.anode.nn.BatchNorm2d;
import org.anode.nn.Conv2d;
import org.anode.nn.Initializer;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Sequential;

/** Small building blocks shared by the models. */
final class Layers {
  private Layers() {}

  /** conv (square or rectangular kernel) → BN → ReLU. */
  static Sequential convBnRelu(
      ParameterFactory f, int in, int out, int kh, int kw, Conv2dSpec spec, boolean bias) {
    return new Sequential(
        new Conv2d(f, in, out, kh, kw, spec, bias, Initializer.kaimingNormal()),
        new BatchNorm2d(f, out),
        new ReLU());
  }

  /** conv → BN (no activation), as before a residual addition. */
  static Sequential convBn(
      ParameterFactory f, int in, int out, int kh, int kw, Conv2dSpec spec, boolean bias) {
    return new Sequential(
        new Conv2d(f, in, out, kh, kw, spec, bias, Initializer.kaimingNormal()),
        new BatchNorm2d(f, out));
  }

  /** Channels scaled by a width multiplier, at least 1. */
  static int scaled(int channels, double width) {
    return Math.max(1, (int) Math.round(channels * width));
  }

  static Module identity() {
    return new Sequential();
  }
}
