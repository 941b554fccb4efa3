package org.anode.spark;

import java.util.concurrent.ThreadFactory;

/** Threads of the module's helpers (prefetch, handshakes, progress): named, never holding a JVM. */
final class DaemonThreads {
  private DaemonThreads() {}

  static ThreadFactory named(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
