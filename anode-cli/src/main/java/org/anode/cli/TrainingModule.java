package org.anode.cli;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import com.google.inject.name.Named;
import java.io.IOException;
import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.data.Augmentation;
import org.anode.data.DataLoader;
import org.anode.data.ImageDataset;
import org.anode.models.OdeResNet;
import org.anode.models.OdeSettings;
import org.anode.models.OdeSqueezeNext;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.ode.Stepping;
import org.anode.train.Adam;
import org.anode.train.LearningRateSchedule;
import org.anode.train.Optimizer;
import org.anode.train.Sgd;

/**
 * Wires the application from the command-line options: backend, model, data, optimizer, schedule.
 */
final class TrainingModule extends AbstractModule {
  private final ModelOptions model;
  private final TrainCommand train; // null for eval

  TrainingModule(ModelOptions model, TrainCommand train) {
    this.model = model;
    this.train = train;
  }

  @Provides
  @Singleton
  Backend backend() {
    // --threads, else whatever the backend was created with (or the environment's setting).
    BackendOptions options = model.threads > 0 ? new BackendOptions(model.threads) : null;
    return model.backend == null ? Backends.get(options) : Backends.get(model.backend, options);
  }

  @Provides
  @Singleton
  DType dtype() {
    return model.float64 ? DType.FLOAT64 : DType.FLOAT32;
  }

  @Provides
  @Singleton
  Module model(Backend be, DType dtype) {
    ParameterFactory f = new ParameterFactory(be, dtype, model.seed);
    OdeSettings ode =
        new OdeSettings(
            Choices.solver(model.solver, model.eta),
            Stepping.fixed(model.nt),
            1.0,
            Choices.method(model.method));
    int classes = model.classes();
    int[] depths = Choices.depths(model.depths);
    return switch (model.model) {
      case "resnet" -> new OdeResNet(f, classes, model.width, depths, ode);
      case "sqnxt" -> new OdeSqueezeNext(f, classes, model.width, depths, ode);
      default ->
          throw new IllegalArgumentException(
              "--model must be resnet or sqnxt, got '" + model.model + "'");
    };
  }

  @Provides
  @Singleton
  @Named("test")
  ImageDataset testData() throws IOException {
    return Datasets.load(model, false, model.testLimit);
  }

  @Provides
  @Singleton
  @Named("test")
  DataLoader testLoader(@Named("test") ImageDataset test) {
    return new DataLoader(test, model.batch, false, Augmentation.cifarEvaluation(), model.seed);
  }

  @Provides
  @Singleton
  @Named("train")
  ImageDataset trainData() throws IOException {
    return Datasets.load(model, true, train == null ? 0 : train.trainLimit);
  }

  @Provides
  @Singleton
  @Named("train")
  DataLoader trainLoader(@Named("train") ImageDataset data) {
    return new DataLoader(data, model.batch, true, Augmentation.cifarTraining(), model.seed);
  }

  @Provides
  @Singleton
  Optimizer optimizer() {
    return switch (train.optimizer) {
      case "sgd" -> new Sgd(train.momentum, train.nesterov, train.weightDecay);
      case "adam" -> new Adam(0.9, 0.999, 1e-8, train.weightDecay);
      default ->
          throw new IllegalArgumentException(
              "--optimizer must be sgd or adam, got '" + train.optimizer + "'");
    };
  }

  @Provides
  @Singleton
  LearningRateSchedule schedule() {
    return switch (train.schedule) {
      case "reference" -> LearningRateSchedule.reference(train.lr);
      case "cosine" -> LearningRateSchedule.cosine(train.lr, train.epochs);
      case "constant" -> LearningRateSchedule.constant(train.lr);
      default ->
          throw new IllegalArgumentException(
              "--schedule must be reference, cosine or constant, got '" + train.schedule + "'");
    };
  }
}
