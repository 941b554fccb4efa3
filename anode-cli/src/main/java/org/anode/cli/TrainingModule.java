package org.anode.cli;

import com.google.inject.AbstractModule;
import com.google.inject.Provider;
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
 * Wires a run from its {@link RunConfig}: backend, model, data, and for a training run the
 * optimizer and schedule.
 */
public final class TrainingModule extends AbstractModule {
  private final RunConfig config;

  public TrainingModule(RunConfig config) {
    this.config = config;
  }

  /** The optimization of a training run; a run that does not train never asks for it. */
  private RunConfig.Optimization optimization() {
    if (config.optimization() == null) {
      throw new IllegalStateException("this run does not train: it has no optimizer or schedule");
    }
    return config.optimization();
  }

  @Provides
  @Singleton
  Backend backend() {
    // --threads, else whatever the backend was created with (or the environment's setting).
    BackendOptions options = config.threads() > 0 ? new BackendOptions(config.threads()) : null;
    return config.backend() == null
        ? Backends.get(options)
        : Backends.get(config.backend(), options);
  }

  @Provides
  @Singleton
  DType dtype() {
    return config.dtype();
  }

  @Provides
  @Singleton
  Module model(Backend be, DType dtype) {
    return model(config, be, dtype);
  }

  /** The network {@code config} describes, on {@code be}: the same weights for the same seed. */
  public static Module model(RunConfig config, Backend be, DType dtype) {
    ParameterFactory f = new ParameterFactory(be, dtype, config.seed());
    OdeSettings ode =
        new OdeSettings(
            Choices.solver(config.solver(), config.eta()),
            Stepping.fixed(config.nt()),
            1.0,
            Choices.method(config.method()));
    int classes = config.classes();
    return switch (config.model()) {
      case "resnet" -> new OdeResNet(f, classes, config.width(), config.depths(), ode);
      case "sqnxt" -> new OdeSqueezeNext(f, classes, config.width(), config.depths(), ode);
      default ->
          throw new IllegalArgumentException(
              "--model must be resnet or sqnxt, got '" + config.model() + "'");
    };
  }

  /**
   * The training images, cut in two when {@code --holdout} asks: then the held-out part is what is
   * evaluated, and the test set is not read.
   */
  @Provides
  @Singleton
  ImageDataset.Split trainingSplit() throws IOException {
    ImageDataset all = Datasets.load(config, true, config.trainLimit());
    if (config.holdout() == 0) {
      return new ImageDataset.Split(all, null);
    }
    if (config.holdout() >= all.size()) {
      throw new IllegalArgumentException(
          "--holdout "
              + config.holdout()
              + " leaves no training images: the training set has "
              + all.size());
    }
    return all.split(config.holdout(), config.seed());
  }

  @Provides
  @Singleton
  @Named("test")
  ImageDataset testData(Provider<ImageDataset.Split> split) throws IOException {
    // Only a run with --holdout reads the training set for its evaluation (anode eval does not).
    return config.holdout() > 0
        ? split.get().heldOut()
        : Datasets.load(config, false, config.testLimit());
  }

  @Provides
  @Singleton
  @Named("test")
  DataLoader testLoader(@Named("test") ImageDataset test) {
    return new DataLoader(
        test, config.batch(), false, Augmentation.cifarEvaluation(), config.seed());
  }

  @Provides
  @Singleton
  @Named("train")
  ImageDataset trainData(ImageDataset.Split split) {
    return split.kept();
  }

  @Provides
  @Singleton
  @Named("train")
  DataLoader trainLoader(@Named("train") ImageDataset data) {
    return new DataLoader(data, config.batch(), true, Augmentation.cifarTraining(), config.seed());
  }

  @Provides
  @Singleton
  Optimizer optimizer() {
    return optimizer(optimization());
  }

  /** A new optimizer as {@code o} says. */
  static Optimizer optimizer(RunConfig.Optimization o) {
    return switch (o.optimizer()) {
      case "sgd" -> new Sgd(o.momentum(), o.nesterov(), o.weightDecay());
      case "adam" -> new Adam(0.9, 0.999, 1e-8, o.weightDecay());
      default ->
          throw new IllegalArgumentException(
              "--optimizer must be sgd or adam, got '" + o.optimizer() + "'");
    };
  }

  @Provides
  @Singleton
  LearningRateSchedule schedule() {
    return schedule(optimization());
  }

  /** The learning-rate schedule {@code o} names. */
  static LearningRateSchedule schedule(RunConfig.Optimization o) {
    return switch (o.schedule()) {
      case "reference" -> LearningRateSchedule.reference(o.lr());
      case "cosine" -> LearningRateSchedule.cosine(o.lr(), o.epochs());
      case "constant" -> LearningRateSchedule.constant(o.lr());
      default ->
          throw new IllegalArgumentException(
              "--schedule must be reference, cosine or constant, got '" + o.schedule() + "'");
    };
  }
}
