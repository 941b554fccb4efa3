package org.anode.cli;

import java.nio.file.Path;
import org.anode.api.DType;
import picocli.CommandLine.Option;

/** Options shared by {@code train} and {@code eval}: what model, which data, which backend. */
public final class ModelOptions {
  @Option(
      names = "--model",
      defaultValue = "resnet",
      description = "resnet or sqnxt (default: ${DEFAULT-VALUE})")
  String model;

  @Option(
      names = "--dataset",
      defaultValue = "cifar10",
      description = "cifar10 or cifar100 (default: ${DEFAULT-VALUE})")
  String dataset;

  @Option(
      names = "--data",
      defaultValue = ModelOptions.DEFAULT_DATA,
      description =
          "Folder or archive with the CIFAR binary version, or an image-folder archive (<split>/<class>/*.jpg); downloaded into the folder when missing (default: ${DEFAULT-VALUE})")
  Path data;

  @Option(
      names = "--method",
      defaultValue = "anode",
      description =
          "anode, store-all, revolve:S, adjoint or reversible (alf, reversible-heun) (default:"
              + " ${DEFAULT-VALUE})")
  String method;

  @Option(
      names = "--solver",
      defaultValue = "euler",
      description =
          "euler, rk2, heun, rk4, dopri5, alf or reversible-heun (default: ${DEFAULT-VALUE})")
  String solver;

  @Option(
      names = "--eta",
      defaultValue = "1.0",
      description = "Damping η of --solver alf, in (0, 1] and not 1/2 (default: ${DEFAULT-VALUE})")
  double eta;

  @Option(
      names = "--nt",
      defaultValue = "2",
      description = "Solver steps per ODE block, N_t (default: ${DEFAULT-VALUE})")
  int nt;

  @Option(
      names = "--width",
      defaultValue = "1.0",
      description = "Channel width multiplier (default: ${DEFAULT-VALUE})")
  double width;

  @Option(
      names = "--depths",
      defaultValue = "1,1,1,1",
      description = "ODE blocks per stage (default: ${DEFAULT-VALUE})")
  String depths;

  @Option(
      names = "--backend",
      description = "nd4j, tensorflow or djl (default: the best-ranked one found)")
  String backend;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description = "Kernel threads (default: the library's)")
  int threads;

  @Option(
      names = "--test-limit",
      defaultValue = "0",
      description = "Evaluate on a seeded, class-balanced sample of N test images (default: all)")
  int testLimit;

  @Option(
      names = "--batch",
      defaultValue = "128",
      description = "Batch size (default: ${DEFAULT-VALUE})")
  int batch;

  @Option(
      names = "--seed",
      defaultValue = "1",
      description = "Seed of weights, sampling, order and augmentation (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--float64", description = "Compute in float64 instead of float32")
  boolean float64;

  /** Whether {@code --data} was given (only the default folder is downloaded into). */
  boolean dataGiven() {
    return !data.equals(Path.of(DEFAULT_DATA));
  }

  static final String DEFAULT_DATA = "data";

  /**
   * N_t beyond which a run is not an ODE-Net experiment but a mistake (the paper uses N_t ≤ 16; the
   * memory probe alone would take minutes).
   */
  static final int MAX_NT = 1000;

  /** 16 × ResNet's 512 channels: its 3×3 weights still index with an int. */
  static final double MAX_WIDTH = 16;

  /** Checks every numeric option's range and the names; throws naming the option at fault. */
  void validate() {
    OptionChecks.inClosedRange("--nt", nt, 1, MAX_NT);
    OptionChecks.positiveFinite("--width", width);
    if (width > MAX_WIDTH) {
      throw new IllegalArgumentException(
          "--width must be at most "
              + MAX_WIDTH
              + " (8,192 channels in the last stage), got "
              + width);
    }
    Choices.depths(depths);
    int cores = Runtime.getRuntime().availableProcessors();
    if (threads > cores) {
      throw new IllegalArgumentException(
          "--threads " + threads + ": this machine gives the process " + cores + " cores");
    }
    OptionChecks.atLeast("--threads", threads, 0);
    OptionChecks.atLeast("--test-limit", testLimit, 0);
    OptionChecks.atLeast("--batch", batch, 1);
    Choices.solver(solver, eta);
    Choices.method(method);
    if (!model.equals("resnet") && !model.equals("sqnxt")) {
      throw new IllegalArgumentException("--model must be resnet or sqnxt, got '" + model + "'");
    }
    classes();
  }

  /** The number of classes of {@code --dataset}. */
  int classes() {
    return switch (dataset) {
      case "cifar10" -> 10;
      case "cifar100" -> 100;
      default ->
          throw new IllegalArgumentException(
              "--dataset must be cifar10 or cifar100, got '" + dataset + "'");
    };
  }

  /** The checked configuration these options describe; {@code optimization} may be null. */
  public RunConfig config(RunConfig.Optimization optimization) {
    return config(optimization, method, solver);
  }

  /** As {@link #config(RunConfig.Optimization)} with another gradient method and solver. */
  public RunConfig config(RunConfig.Optimization optimization, String method, String solver) {
    return config(optimization, model, method, solver);
  }

  /** As {@link #config(RunConfig.Optimization, String, String)} for another model too. */
  public RunConfig config(
      RunConfig.Optimization optimization, String model, String method, String solver) {
    validate();
    if (!model.equals("resnet") && !model.equals("sqnxt")) {
      throw new IllegalArgumentException("--model must be resnet or sqnxt, got '" + model + "'");
    }
    Choices.method(method);
    Choices.solver(solver, eta);
    return new RunConfig(
        model,
        dataset,
        classes(),
        width,
        Choices.depths(depths),
        solver,
        eta,
        nt,
        method,
        backend,
        threads,
        float64 ? DType.FLOAT64 : DType.FLOAT32,
        batch,
        seed,
        data.toString(),
        dataGiven(),
        testLimit,
        optimization);
  }
}
