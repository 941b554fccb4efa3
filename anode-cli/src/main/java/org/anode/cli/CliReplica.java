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
    return Datasets.load(config, true, config.trainLimit());
  }

  @Override
  public ImageDataset testData() throws IOException {
    return Datasets.load(config, false, config.testLimit());
  }
}
