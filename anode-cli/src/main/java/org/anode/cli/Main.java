package org.anode.cli;

import com.google.inject.ProvisionException;
import picocli.CommandLine;

/** Entry point of the {@code anode} command. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns its exit code (1 with a one-line message on errors). */
  public static int run(String... args) {
    return new CommandLine(new AnodeCommand())
        .setExecutionExceptionHandler(
            (e, cmd, parsed) -> {
              Throwable cause = e;
              while (cause instanceof ProvisionException && cause.getCause() != null) {
                cause = cause.getCause();
              }
              if (cause instanceof IllegalArgumentException
                  || cause instanceof java.io.IOException
                  || cause instanceof org.anode.api.BackendNotFoundException) {
                cmd.getErr().println("anode: " + cause.getMessage());
                return 1;
              }
              throw e;
            })
        .execute(args);
  }
}
