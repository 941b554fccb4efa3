package org.anode.cli;

import picocli.CommandLine;

/** Entry point of the {@code anode} command. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns its exit code. */
  public static int run(String... args) {
    return new CommandLine(new AnodeCommand()).execute(args);
  }
}
