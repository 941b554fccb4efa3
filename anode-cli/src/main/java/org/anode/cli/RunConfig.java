package org.anode.cli;

import java.io.Serializable;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.anode.api.DType;

/**
 * Everything a run is built from, read once from the command line and checked: the model and its
 * ODE blocks, the data, the backend and, for a training run, the {@link Optimization}. Commands
 * build one ({@link ModelOptions#config}) and hand it on; what wires the run ({@link
 * TrainingModule}, {@link Datasets}) reads this record, never picocli objects or system properties.
 *
 * @param classes 10 or 100, from {@code dataset}
 * @param data {@code --data}: a folder or archive every worker of a distributed run reads
 * @param dataGiven whether {@code --data} was given (only the default folder is downloaded into)
 * @param optimization null for runs that do not train ({@code anode eval})
 */
public record RunConfig(
    String model,
    String dataset,
    int classes,
    double width,
    int[] depths,
    String solver,
    double eta,
    int nt,
    String method,
    String backend,
    int threads,
    DType dtype,
    int batch,
    long seed,
    String data,
    boolean dataGiven,
    int testLimit,
    Optimization optimization)
    implements Serializable {

  /**
   * How a training run optimizes: epochs, training-set size, learning rate and its schedule, and
   * the optimizer with its settings. Checked when built; errors name the option at fault.
   *
   * @param trainLimit training images (a seeded, class-balanced sample; 0: all)
   * @param schedule {@code reference}, {@code cosine} or {@code constant}
   * @param optimizer {@code sgd} or {@code adam}
   * @param holdout training images held out, class-balanced, and evaluated instead of the test set
   *     (0: none; the test set is evaluated)
   * @param labelSmoothing ε of the label-smoothed cross-entropy (0: plain cross-entropy)
   * @param flipEvaluation whether evaluation averages the logits of each image and its mirror
   */
  public record Optimization(
      int epochs,
      int trainLimit,
      double lr,
      String schedule,
      String optimizer,
      double momentum,
      boolean nesterov,
      double weightDecay,
      int holdout,
      double labelSmoothing,
      boolean flipEvaluation)
      implements Serializable {

    public Optimization {
      OptionChecks.atLeast("--epochs", epochs, 1);
      OptionChecks.atLeast("--train-limit", trainLimit, 0);
      OptionChecks.positiveFinite("--lr", lr);
      OptionChecks.inRange("--momentum", momentum, 0, 1);
      OptionChecks.nonNegativeFinite("--weight-decay", weightDecay);
      OptionChecks.atLeast("--holdout", holdout, 0);
      if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
        throw new IllegalArgumentException(
            "--label-smoothing must be in [0, 1), got " + labelSmoothing);
      }
      if (!List.of("sgd", "adam").contains(optimizer)) {
        throw new IllegalArgumentException(
            "--optimizer must be sgd or adam, got '" + optimizer + "'");
      }
      if (!List.of("reference", "cosine", "constant").contains(schedule)) {
        throw new IllegalArgumentException(
            "--schedule must be reference, cosine or constant, got '" + schedule + "'");
      }
    }

    /** Optimizer state slots per parameter (Adam: two moments; SGD: momentum, if any). */
    int stateSlots() {
      return optimizer.equals("adam") ? 2 : momentum > 0 ? 1 : 0;
    }
  }

  /** This configuration with gradient method {@code other} (its solver kept). */
  public RunConfig withMethod(String other) {
    return copy(other, dtype);
  }

  /** This configuration computing in {@code other} instead of its dtype. */
  public RunConfig withDtype(DType other) {
    return copy(method, other);
  }

  private RunConfig copy(String m, DType d) {
    return new RunConfig(
        model,
        dataset,
        classes,
        width,
        depths,
        solver,
        eta,
        nt,
        m,
        backend,
        threads,
        d,
        batch,
        seed,
        data,
        dataGiven,
        testLimit,
        optimization);
  }

  /** Training images held out for evaluation instead of the test set (0: none). */
  int holdout() {
    return optimization == null ? 0 : optimization.holdout();
  }

  /** Training images to sample (0: all; always all for a run that does not train). */
  int trainLimit() {
    return optimization == null ? 0 : optimization.trainLimit();
  }

  /** What a checkpoint records of the model, as in {@link org.anode.train.Checkpoint#IDENTITY}. */
  Map<String, String> describe() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("model", model);
    m.put("dataset", dataset);
    m.put("width", Double.toString(width));
    // joined by '-': a comma would need quoting in the metrics CSV
    m.put(
        "depths",
        Arrays.stream(depths).mapToObj(Integer::toString).collect(Collectors.joining("-")));
    m.put("dtype", dtype == DType.FLOAT64 ? "float64" : "float32");
    m.put("method", method);
    m.put("solver", eta == 1.0 ? solver : solver + ":eta=" + eta);
    m.put("nt", Integer.toString(nt));
    return m;
  }
}
