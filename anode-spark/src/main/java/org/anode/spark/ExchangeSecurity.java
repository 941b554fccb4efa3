package org.anode.spark;

import java.io.Serializable;
import java.security.SecureRandom;

/**
 * What protects the gradient exchange of one training run ({@link AllReduce}): a secret the driver
 * draws for the run and hands to its tasks inside the task closure (never on a command line or in a
 * file), which every peer must prove it holds before it is given a rank; whether messages are
 * encrypted as well (AES-GCM under a key derived per connection from the secret), which follows
 * Spark's own {@code spark.network.crypto.enabled}; and how long a peer may keep the others
 * waiting.
 *
 * <p>The closure travels as Spark sends tasks: encrypted when Spark's RPC encryption is on ({@code
 * spark.authenticate} with {@code spark.network.crypto.enabled}), which is how a cluster job should
 * run (README, "Training on Spark securely").
 *
 * @param secret 32 random bytes, the same for every worker of the run
 * @param encrypt whether messages are encrypted and authenticated, not only the handshake
 * @param handshakeMillis how long a connecting peer has to prove itself before it is dropped
 * @param waitMillis how long a worker waits for a peer's message before the exchange fails
 */
record ExchangeSecurity(byte[] secret, boolean encrypt, int handshakeMillis, long waitMillis)
    implements Serializable {

  /** A peer's proof may take this long; a stranger that stays silent is dropped after it. */
  static final int HANDSHAKE_MILLIS = 10_000;

  /**
   * A worker waits this long for the others at an exchange: a step, the end-of-epoch evaluation of
   * a shard, or worker 0 writing the checkpoint (the slowest of them, on CPUs, well under it).
   */
  static final long WAIT_MILLIS = 30 * 60_000L;

  ExchangeSecurity {
    if (secret == null || secret.length < 16) {
      throw new IllegalArgumentException("the exchange secret must have at least 16 bytes");
    }
    if (handshakeMillis < 1 || waitMillis < 1) {
      throw new IllegalArgumentException(
          "exchange timeouts must be positive, got "
              + handshakeMillis
              + " ms, "
              + waitMillis
              + " ms");
    }
    secret = secret.clone();
  }

  /** A fresh secret for a new run, with the default timeouts. */
  static ExchangeSecurity generate(boolean encrypt) {
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    return new ExchangeSecurity(secret, encrypt, HANDSHAKE_MILLIS, WAIT_MILLIS);
  }

  @Override
  public byte[] secret() {
    return secret.clone();
  }

  @Override
  public String toString() {
    return "ExchangeSecurity[encrypt=" + encrypt + ", secret hidden]";
  }
}
