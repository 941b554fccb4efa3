package org.anode.spark;

import java.io.IOException;
import java.io.Serializable;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.data.Augmentation;
import org.anode.data.ImageDataset;
import org.anode.nn.Module;
import org.anode.train.Optimizer;

/**
 * What every worker builds for itself: its replica of the model (seeded, so every worker starts
 * from the same weights, which the workers verify by checksum), its optimizer and its data, which
 * it reads from a path all workers see — the driver never ships pixels. Spark serializes the
 * replica into each task: it holds settings, never tensors. Implementations should be records (or
 * otherwise define {@code equals}): a worker JVM keeps the datasets it read per replica and reuses
 * them in later epochs.
 */
public interface Replica extends Serializable {

  /** A new model on {@code backend}; the same weights on every call. */
  Module model(Backend backend, DType dtype);

  /** A new optimizer (its state is restored from the checkpoint after the first epoch). */
  Optimizer optimizer();

  /** The training set, read by the worker itself. */
  ImageDataset trainingData() throws IOException;

  /** The test set, read by the worker itself. */
  ImageDataset testData() throws IOException;

  /** The training augmentation (CIFAR's crop and flip by default). */
  default Augmentation trainingAugmentation() {
    return Augmentation.cifarTraining();
  }

  /** The evaluation transform (CIFAR's normalization by default). */
  default Augmentation evaluationAugmentation() {
    return Augmentation.cifarEvaluation();
  }

  /** Label smoothing ε of the training loss (none by default). */
  default double labelSmoothing() {
    return 0;
  }

  /** Whether evaluation averages each image's logits with its mirror's (not by default). */
  default boolean flipEvaluation() {
    return false;
  }
}
