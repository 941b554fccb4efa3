package org.anode.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * One run of the {@code anode} command line in this JVM, with what it printed on standard output
 * and standard error (echoed after the run, so that a test's log shows it).
 */
record CommandRun(int code, String out, String err) {

  /** Standard output then standard error. */
  String all() {
    return out + err;
  }

  static CommandRun of(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
      code = Main.run(args);
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
    CommandRun r =
        new CommandRun(
            code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    System.out.print(r.out);
    System.out.print(r.err);
    return r;
  }
}
