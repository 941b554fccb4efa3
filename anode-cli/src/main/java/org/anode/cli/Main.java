package org.anode.cli;

import com.google.inject.ProvisionException;
import picocli.CommandLine;

/** Entry point of the {@code anode} command. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Routes JavaCPP's messages (its version check) through SLF4J, whose levels ({@code
   * simplelogger.properties}) keep native libraries' banners out of a normal start; with {@code
   * verbose} they are shown. Must run before any backend class loads.
   */
  static void quietNativeLibraries(boolean verbose) {
    if (System.getProperty("org.bytedeco.javacpp.logger") == null) {
      System.setProperty("org.bytedeco.javacpp.logger", "slf4j");
    }
    if (verbose) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "info");
      System.setProperty("org.slf4j.simpleLogger.log.org.bytedeco", "warn");
      System.setProperty("org.slf4j.simpleLogger.log.ai.djl.util.cuda", "warn");
    }
  }

  /** Runs the command line and returns its exit code (1 with a one-line message on errors). */
  public static int run(String... args) {
    quietNativeLibraries(java.util.Arrays.asList(args).contains("--verbose"));
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
