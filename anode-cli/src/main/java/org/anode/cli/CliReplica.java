package org.anode.cli;

import java.io.IOException;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.data.ImageDataset;
import org.anode.nn.Module;
import org.anode.spark.Replica;
import org.anode.train.Optimizer;

/**
 * A worker's replica of the run {@code config} describes: the same network, optimizer and data as
 * {@code anode train} builds in one process, the data read by the worker from {@code --data}.
 */
record CliReplica(RunConfig config) implements Replica {

  @Override
  public Module model(Backend backend, DType dtype) {
    return TrainingModule.model(config, backend, dtype);
  }

  @Override
  public Optimizer optimizer() {
    return TrainingModule.optimizer(config.optimization());
  }

  @Override
  public ImageDataset trainingData() throws IOException {
    ImageDataset all = Datasets.load(config, true, config.trainLimit());
    return config.holdout() > 0 ? all.split(config.holdout(), config.seed()).kept() : all;
  }

  /** The test set, or with {@code --holdout} the held-out training images (as in one process). */
  @Override
  public ImageDataset testData() throws IOException {
    return config.holdout() > 0
        ? Datasets.load(config, true, config.trainLimit())
            .split(config.holdout(), config.seed())
            .heldOut()
        : Datasets.load(config, false, config.testLimit());
  }

  @Override
  public double labelSmoothing() {
    return config.optimization().labelSmoothing();
  }

  @Override
  public boolean flipEvaluation() {
    return config.optimization().flipEvaluation();
  }
}
