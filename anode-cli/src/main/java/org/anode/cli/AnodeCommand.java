package org.anode.cli;

import picocli.CommandLine.Command;

/**
 * {@code anode}: train and evaluate neural-ODE classifiers with exact, memory-efficient gradients.
 */
@Command(
    name = "anode",
    mixinStandardHelpOptions = true,
    version = "anode 0.1.0",
    description = "Neural ODEs with ANODE gradients on ND4J, TensorFlow Java or DJL.",
    subcommands = {
      TrainCommand.class,
      EvalCommand.class,
      InfoCommand.class,
      org.anode.cli.experiment.ExperimentCommand.class,
      org.anode.cli.bench.BenchCommand.class
    })
public final class AnodeCommand implements Runnable {
  /** Read by {@link Main} before parsing (logging must be set before any backend loads). */
  @picocli.CommandLine.Option(
      names = "--verbose",
      scope = picocli.CommandLine.ScopeType.INHERIT,
      description = "Also show the native libraries' log lines (banners, warnings)")
  boolean verbose;

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }
}
