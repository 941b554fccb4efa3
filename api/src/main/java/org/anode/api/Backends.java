package org.anode.api;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds tensor backends with {@link ServiceLoader} and chooses one, in the manner of DJL's {@code
 * Engine}: the system property {@value #PROPERTY} or else the environment variable {@value #ENV}
 * names the backend; without either, the highest-ranked provider that can run here wins. Each
 * backend is created once per process and shared.
 */
public final class Backends {
  /** System property naming the backend to use, such as {@code -Danode.backend=nd4j}. */
  public static final String PROPERTY = "anode.backend";

  /** Environment variable naming the backend when the property is not set. */
  public static final String ENV = "ANODE_BACKEND";

  private static final Map<String, Backend> CREATED = new ConcurrentHashMap<>();
  private static final Map<String, BackendOptions> OPTIONS = new ConcurrentHashMap<>();

  private Backends() {}

  /** A discovered provider and whether it can run here. */
  public record Found(BackendProvider provider, BackendProvider.Availability availability) {
    @Override
    public String toString() {
      return provider.name()
          + " (rank "
          + provider.rank()
          + ", "
          + (availability.available() ? "available" : "unavailable: " + availability.reason())
          + ")";
    }
  }

  /** Every provider on the classpath, best rank first, with its availability. */
  public static List<Found> discover() {
    List<Found> found = new ArrayList<>();
    for (BackendProvider provider : providers()) {
      found.add(new Found(provider, availability(provider)));
    }
    return found;
  }

  /**
   * Every provider on the classpath, best rank first, without asking whether it can run: that
   * question loads a native library, which only the backend that is chosen should do.
   */
  private static List<BackendProvider> providers() {
    List<BackendProvider> out = new ArrayList<>();
    for (ServiceLoader.Provider<BackendProvider> p :
        ServiceLoader.load(BackendProvider.class).stream().toList()) {
      try {
        out.add(p.get());
      } catch (Throwable t) {
        // a broken provider class must not hide the others
      }
    }
    out.sort(Comparator.comparingInt((BackendProvider p) -> -p.rank()));
    return out;
  }

  private static BackendProvider.Availability availability(BackendProvider provider) {
    try {
      return provider.availability();
    } catch (Throwable t) {
      return BackendProvider.Availability.no(t);
    }
  }

  /** The name requested by {@value #PROPERTY} or {@value #ENV}, or null. */
  public static String requestedName() {
    String name = System.getProperty(PROPERTY);
    if (name == null || name.isBlank()) {
      name = System.getenv(ENV);
    }
    return name == null || name.isBlank() ? null : name.trim().toLowerCase(Locale.ROOT);
  }

  /** The backend named by the setting, or else the best-ranked one that can run here. */
  public static Backend get() {
    return get((BackendOptions) null);
  }

  /**
   * As {@link #get()}, the backend created with {@code options} (null: from the environment, {@link
   * BackendOptions#fromEnvironment()}).
   */
  public static Backend get(BackendOptions options) {
    String requested = requestedName();
    if (requested != null) {
      return get(requested, options);
    }
    // Best rank first, and no further than the first that can run: the others stay unloaded.
    List<Found> found = new ArrayList<>();
    for (BackendProvider provider : providers()) {
      BackendProvider.Availability a = availability(provider);
      if (a.available()) {
        return create(provider, options);
      }
      found.add(new Found(provider, a));
    }
    throw new BackendNotFoundException(
        found.isEmpty()
            ? "No anode backend found on the classpath. Add one of the backend modules:"
                + " org.anode:anode-backend-nd4j, anode-backend-djl or anode-backend-tensorflow."
            : "No anode backend can run here. Found: " + describe(found));
  }

  /** The backend called {@code name}, or an error listing what was found. */
  public static Backend get(String name) {
    return get(name, null);
  }

  /**
   * The backend called {@code name}, created with {@code options} (null: the options it was created
   * with, or those of the environment). A process holds one instance per backend, since tensors
   * belong to the instance that made them: asking for other options than it was created with is an
   * error that names both.
   */
  public static Backend get(String name, BackendOptions options) {
    String wanted = name.trim().toLowerCase(Locale.ROOT);
    Backend existing = CREATED.get(wanted);
    if (existing != null) {
      return checked(wanted, existing, options);
    }
    // Only the named provider is asked whether it can run; the others are probed for the message.
    for (BackendProvider provider : providers()) {
      if (provider.name().equalsIgnoreCase(wanted)) {
        BackendProvider.Availability a = availability(provider);
        if (!a.available()) {
          throw new BackendNotFoundException(
              "Backend '"
                  + name
                  + "' cannot run here: "
                  + a.reason()
                  + ". Found: "
                  + describe(discover()));
        }
        return create(provider, options);
      }
    }
    List<Found> found = discover();
    throw new BackendNotFoundException(
        "Unknown backend '"
            + name
            + "' (from "
            + (name.equalsIgnoreCase(String.valueOf(System.getProperty(PROPERTY)))
                ? "system property " + PROPERTY
                : name.equalsIgnoreCase(String.valueOf(System.getenv(ENV)))
                    ? "environment variable " + ENV
                    : "the caller")
            + "). Found: "
            + (found.isEmpty() ? "no providers on the classpath" : describe(found)));
  }

  /**
   * Closes {@code backend} and forgets it, so that a later {@link #get} creates a fresh one. Its
   * tensors must be closed first.
   */
  public static void release(Backend backend) {
    CREATED.entrySet().removeIf(e -> e.getValue() == backend);
    OPTIONS.keySet().retainAll(CREATED.keySet());
    backend.close();
  }

  private static Backend create(BackendProvider provider, BackendOptions options) {
    String name = provider.name().toLowerCase(Locale.ROOT);
    Backend b =
        CREATED.computeIfAbsent(
            name,
            n -> {
              BackendOptions o = options != null ? options : BackendOptions.fromEnvironment();
              OPTIONS.put(n, o);
              return provider.create(o);
            });
    return checked(name, b, options);
  }

  private static Backend checked(String name, Backend existing, BackendOptions options) {
    BackendOptions had = OPTIONS.get(name);
    if (options != null && had != null && !had.equals(options)) {
      throw new IllegalStateException(
          "backend "
              + name
              + " was already created with "
              + had
              + "; one instance per process, asked for "
              + options);
    }
    return existing;
  }

  private static String describe(List<Found> found) {
    StringBuilder sb = new StringBuilder();
    for (Found f : found) {
      if (sb.length() > 0) {
        sb.append("; ");
      }
      sb.append(f);
    }
    return sb.toString();
  }
}
