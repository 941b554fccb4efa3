package org.anode.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * A named preset of {@code anode train} options ({@code --recipe NAME}): each option it names takes
 * the recipe's value unless the command line gives the option itself. The values were chosen by
 * measurement on held-out training images ({@code --holdout}), never on the test set; the README's
 * "Against the clock" section has the table of the variants tried.
 *
 * @param name what {@code --recipe} calls it
 * @param options option name to value, as it would be typed on the command line
 */
record Recipe(String name, Map<String, String> options) {

  /**
   * {@code fast-cpu}: ODE-ResNet at width 0.25 with two Euler steps per ODE block, trained with
   * store-all backprop (exact, and ~30% more steps per second than ANODE's recomputation where its
   * memory fits, as it does at this size), SGD with Nesterov momentum at peak learning rate 0.1 on
   * batches of 64, and mirror-averaged evaluation; made for {@code --time-budget} on a few CPU
   * cores. Label smoothing (ε = 0.1) was tried and left out: it lost a point on held-out images.
   */
  static final Recipe FAST_CPU =
      new Recipe(
          "fast-cpu",
          ordered(
              "--model", "resnet",
              "--width", "0.25",
              "--depths", "1,1,1,1",
              "--solver", "euler",
              "--nt", "2",
              "--method", "store-all",
              "--batch", "64",
              "--lr", "0.1",
              "--momentum", "0.9",
              "--nesterov", "true",
              "--weight-decay", "5e-4",
              "--label-smoothing", "0",
              "--eval-flips", "true",
              "--schedule", "cosine"));

  /** The recipes {@code --recipe} knows, as listed in its help. */
  static final String NAMES = "fast-cpu";

  /** The recipe called {@code name}; the error lists the known ones. */
  static Recipe named(String name) {
    if (name.equals(FAST_CPU.name)) {
      return FAST_CPU;
    }
    throw new IllegalArgumentException("--recipe must be one of " + NAMES + ", got '" + name + "'");
  }

  /**
   * Sets each of the recipe's options on {@code spec}'s command unless {@code given} says the
   * command line set it; the values are converted to the option's type as picocli would.
   */
  void applyTo(CommandSpec spec, Predicate<String> given) {
    for (Map.Entry<String, String> e : options.entrySet()) {
      OptionSpec option = spec.findOption(e.getKey());
      if (option == null) {
        throw new IllegalStateException(
            "recipe " + name + " names " + e.getKey() + ", which " + spec.name() + " lacks");
      }
      if (!given.test(e.getKey())) {
        option.setValue(convert(e.getValue(), option.type()));
      }
    }
  }

  private static Object convert(String value, Class<?> type) {
    if (type == int.class || type == Integer.class) {
      return Integer.parseInt(value);
    }
    if (type == double.class || type == Double.class) {
      return Double.parseDouble(value);
    }
    if (type == boolean.class || type == Boolean.class) {
      return Boolean.parseBoolean(value);
    }
    if (type == String.class) {
      return value;
    }
    throw new IllegalStateException("a recipe cannot set an option of type " + type.getName());
  }

  private static Map<String, String> ordered(String... pairs) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      m.put(pairs[i], pairs[i + 1]);
    }
    return m;
  }
}
