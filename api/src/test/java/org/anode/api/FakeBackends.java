package org.anode.api;

/** Test-only providers registered in this module's test resources. */
final class FakeBackends {
  private FakeBackends() {}

  /** Always available, low rank. Its backend is a stub: discovery never calls a kernel. */
  public static final class Available implements BackendProvider {
    @Override
    public String name() {
      return "fake";
    }

    @Override
    public int rank() {
      return 1;
    }

    @Override
    public Availability availability() {
      return Availability.yes();
    }

    @Override
    public Backend create(BackendOptions options) {
      return (Backend)
          java.lang.reflect.Proxy.newProxyInstance(
              Backend.class.getClassLoader(),
              new Class<?>[] {Backend.class},
              (proxy, method, args) -> {
                if (method.getName().equals("name")) {
                  return "fake";
                }
                if (method.getName().equals("close")) {
                  return null; // holds nothing
                }
                throw new UnsupportedOperationException(method.getName());
              });
    }
  }

  /**
   * Times each fake provider was asked whether it can run (that loads native code for real ones).
   */
  static final java.util.Map<String, java.util.concurrent.atomic.AtomicInteger> ASKED =
      new java.util.concurrent.ConcurrentHashMap<>();

  static void asked(String name) {
    ASKED
        .computeIfAbsent(name, n -> new java.util.concurrent.atomic.AtomicInteger())
        .incrementAndGet();
  }

  /** Lowest rank, available: choosing a better one must not even ask it. */
  public static final class Lowest implements BackendProvider {
    @Override
    public String name() {
      return "lowest";
    }

    @Override
    public int rank() {
      return 0;
    }

    @Override
    public Availability availability() {
      asked("lowest");
      return Availability.yes();
    }

    @Override
    public Backend create(BackendOptions options) {
      throw new AssertionError("must not be created");
    }
  }

  /** Higher rank but cannot run: discovery must skip it and explain why. */
  public static final class Unavailable implements BackendProvider {
    @Override
    public String name() {
      return "broken";
    }

    @Override
    public int rank() {
      return 50;
    }

    @Override
    public Availability availability() {
      asked("broken");
      return Availability.no(new UnsatisfiedLinkError("no libbroken in java.library.path"));
    }

    @Override
    public Backend create(BackendOptions options) {
      throw new AssertionError("must not be created");
    }
  }
}
