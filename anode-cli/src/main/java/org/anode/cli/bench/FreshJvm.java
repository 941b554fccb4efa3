package org.anode.cli.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs one {@code anode bench} configuration in a new JVM, so that its process peak RSS is its own:
 * in one JVM, what earlier rows allocated and the allocators kept (the Java heap, glibc's arenas,
 * the libraries' pools) stays resident and is counted again in every later row. The child is this
 * JVM's own command (same Java, JVM options and class path) running {@code bench --row}, which
 * measures the one configuration and prints it as a single line that starts with {@link #MARK}.
 */
final class FreshJvm {
  /** The first field of the line a child prints with its measurement. */
  static final String MARK = "anode-bench-row";

  private FreshJvm() {}

  /**
   * The command line of a JVM like this one running {@code org.anode.cli.Main} with {@code args}.
   */
  static List<String> command(List<String> args) {
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (!a.startsWith("-agentlib") && !a.startsWith("-javaagent")) {
        cmd.add(a); // debuggers and agents would attach twice
      }
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("org.anode.cli.Main");
    cmd.addAll(args);
    return cmd;
  }

  /**
   * Runs {@code args} in a new JVM and returns the fields of its {@link #MARK} line (without the
   * mark). The child's other output is passed through when it fails, so that its error is seen.
   */
  static String[] run(List<String> args) throws IOException, InterruptedException {
    List<String> cmd = command(args);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int exit = p.waitFor();
    for (String line : output.lines().toList()) {
      if (line.startsWith(MARK + ",") && exit == 0) {
        return line.substring(MARK.length() + 1).split(",");
      }
    }
    throw new IOException(
        "anode bench: the configuration run in a fresh JVM ("
            + String.join(" ", args)
            + ") exited with "
            + exit
            + " and no result:\n"
            + output.strip());
  }
}
