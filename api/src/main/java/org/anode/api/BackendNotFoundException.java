package org.anode.api;

/**
 * No backend could be chosen: none was found on the classpath, the one named does not exist, or it
 * cannot run here. The message lists every provider found and why each could not start.
 */
public class BackendNotFoundException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public BackendNotFoundException(String message) {
    super(message);
  }

  public BackendNotFoundException(String message, Throwable cause) {
    super(message, cause);
  }
}
