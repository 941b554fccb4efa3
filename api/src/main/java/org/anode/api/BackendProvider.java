package org.anode.api;

/**
 * The service-provider interface a backend module registers in {@code
 * META-INF/services/org.anode.api.BackendProvider}. {@link Backends} finds providers with {@link
 * java.util.ServiceLoader}, ranks them and asks each whether it can run here.
 */
public interface BackendProvider {

  /** Short lower-case name users select the backend by, such as {@code "nd4j"}. */
  String name();

  /** Higher wins when several backends can run and none is named. */
  int rank();

  /**
   * Whether this backend can run in this process (native library loads, platform supported), and
   * why not. Must not throw; called once per discovery.
   */
  Availability availability();

  /** Creates the backend. Called at most once per process by {@link Backends}. */
  Backend create(BackendOptions options);

  /** Whether a provider can run here, and the reason when it cannot. */
  record Availability(boolean available, String reason) {
    public static Availability yes() {
      return new Availability(true, "available");
    }

    public static Availability no(String reason) {
      return new Availability(false, reason);
    }

    /** Describes the throwable chain of a failed native load, for the discovery error message. */
    public static Availability no(Throwable t) {
      StringBuilder sb = new StringBuilder();
      for (Throwable c = t; c != null; c = c.getCause()) {
        if (sb.length() > 0) {
          sb.append(" <- ");
        }
        sb.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
        if (c.getCause() == c) {
          break;
        }
      }
      return no(sb.toString());
    }
  }
}
