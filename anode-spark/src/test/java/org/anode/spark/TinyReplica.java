package org.anode.spark;

import java.util.List;
import java.util.SplittableRandom;
import org.anode.api.Backend;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.data.Augmentation;
import org.anode.data.ImageDataset;
import org.anode.nn.Conv2d;
import org.anode.nn.Flatten;
import org.anode.nn.GlobalAvgPool2d;
import org.anode.nn.Linear;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Sequential;
import org.anode.ode.Euler;
import org.anode.ode.GradientMethod;
import org.anode.ode.Stepping;
import org.anode.testing.ReferenceNetworks;
import org.anode.train.Optimizer;
import org.anode.train.Sgd;

/**
 * A small ODE classifier without batch norm (conv stem, one ODE block of the ResNet field with
 * Euler N_t = 2 and the named gradient method, pooling, linear head) on synthetic 3×8×8 images that
 * each worker generates itself from the seed; crops and flips on. Same weights from the same seed;
 * the loss label-smoothed by {@code labelSmoothing}.
 */
record TinyReplica(
    String method, int trainImages, boolean batchNorm, long seed, double labelSmoothing)
    implements Replica {
  static final int CLASSES = 4;

  /** Plain cross-entropy. */
  TinyReplica(String method, int trainImages, boolean batchNorm, long seed) {
    this(method, trainImages, batchNorm, seed, 0.0);
  }

  @Override
  public Module model(Backend backend, DType dtype) {
    ParameterFactory f = new ParameterFactory(backend, dtype, seed);
    return new Sequential(
        new Conv2d(f, 3, 4, 3, Conv2dSpec.of(1, 1), false),
        new ReLU(),
        ReferenceNetworks.block(
            f, 4, batchNorm, new Euler(), Stepping.fixed(2), GradientMethod.named(method)),
        new GlobalAvgPool2d(),
        new Flatten(),
        new Linear(f, 4, CLASSES));
  }

  @Override
  public Optimizer optimizer() {
    return new Sgd(0.9, false, 5e-4);
  }

  @Override
  public ImageDataset trainingData() {
    return images(trainImages, seed);
  }

  @Override
  public ImageDataset testData() {
    return images(10, seed + 1);
  }

  @Override
  public Augmentation trainingAugmentation() {
    return new Augmentation(1, true, Augmentation.CIFAR_MEAN, Augmentation.CIFAR_STD);
  }

  static ImageDataset images(int n, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    byte[] pixels = new byte[n * 3 * 8 * 8];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = i % CLASSES;
      for (int p = 0; p < 3 * 8 * 8; p++) {
        // A class-dependent pattern plus noise: something to learn.
        boolean bright = (p % 8 < 4) == (labels[i] % 2 == 0);
        int v = (bright ? 150 : 60) + 30 * labels[i] + rng.nextInt(40);
        pixels[i * 192 + p] = (byte) Math.min(255, v);
      }
    }
    return new ImageDataset(pixels, labels, List.of("a", "b", "c", "d"), 3, 8, 8);
  }
}
