package org.anode.cli.experiment;

import picocli.CommandLine.Command;

/** {@code anode experiment}: the paper's claims as commands. */
@Command(
    name = "experiment",
    mixinStandardHelpOptions = true,
    description = "Reproduce the ANODE paper's experiments.",
    subcommands = {
      GradientErrorCommand.class,
      ReversibilityCommand.class,
      TrainingCurvesCommand.class,
      TimeToAccuracyCommand.class
    })
public final class ExperimentCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }
}
