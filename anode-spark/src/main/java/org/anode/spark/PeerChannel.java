package org.anode.spark;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.function.BooleanSupplier;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * One authenticated connection between worker 0 and another worker of the gradient exchange.
 *
 * <p>Handshake (mutual challenge–response with HMAC-SHA256 under the run's secret, so neither side
 * sends the secret and a recorded handshake cannot be replayed): worker 0 sends a magic and a
 * random nonce n₀; the worker sends its rank r, its nonce n₁ and HMAC(secret, "worker" ‖ n₀ ‖ n₁ ‖
 * r); worker 0 checks it and answers HMAC(secret, "root" ‖ n₀ ‖ n₁ ‖ r), which the worker checks. A
 * peer that does not complete this within {@link ExchangeSecurity#handshakeMillis} is dropped.
 *
 * <p>Messages are framed by their length; when {@link ExchangeSecurity#encrypt} they are sealed
 * with AES-256-GCM under HMAC(secret, "key" ‖ n₀ ‖ n₁), each direction with its own nonce space and
 * a message counter (NIST SP 800-38D, §8.2.1 deterministic IVs), so a changed, replayed or
 * reordered message fails its tag.
 */
final class PeerChannel implements AutoCloseable {
  private static final byte[] MAGIC = {'a', 'n', 'o', 'd', 'e', 'A', 'R', '2'};
  private static final int NONCE = 32;
  private static final int TAG_BITS = 128;
  private static final int POLL_MILLIS = 1000;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Socket socket;
  private final DataInputStream in;
  private final DataOutputStream out;
  private final int rank;
  private final SecretKeySpec key; // null: messages in the clear
  private final int sendDirection;
  private long sent;
  private long received;

  private PeerChannel(Socket socket, int rank, SecretKeySpec key, boolean root) throws IOException {
    this.socket = socket;
    // From here on a read waits a second at most, so that waits can poll for a killed task.
    socket.setSoTimeout(POLL_MILLIS);
    this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
    this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
    this.rank = rank;
    this.key = key;
    this.sendDirection = root ? 1 : 2;
  }

  /** The rank of the worker at the other end (worker 0's side) or of this worker (the other's). */
  int rank() {
    return rank;
  }

  /**
   * Worker 0's side of the handshake on a freshly accepted socket: the peer's proven rank in [1,
   * workers), or an exception (the caller drops the socket).
   */
  static PeerChannel accept(Socket s, ExchangeSecurity security, int workers)
      throws IOException, GeneralSecurityException {
    Handshake h = Handshake.open(s, security);
    DataOutputStream o = h.out();
    DataInputStream i = h.in();
    byte[] n0 = nonce();
    o.write(MAGIC);
    o.write(n0);
    o.flush();
    int r = i.readInt();
    byte[] n1 = new byte[NONCE];
    i.readFully(n1);
    byte[] proof = new byte[32];
    i.readFully(proof);
    byte[] secret = security.secret();
    if (!MessageDigest.isEqual(proof, mac(secret, "worker", n0, n1, r))) {
      throw new GeneralSecurityException("a peer failed to prove it holds the run's secret");
    }
    if (r < 1 || r >= workers) {
      throw new GeneralSecurityException("an authenticated peer announced rank " + r);
    }
    o.write(mac(secret, "root", n0, n1, r));
    o.flush();
    return new PeerChannel(s, r, sessionKey(security, secret, n0, n1), true);
  }

  /** Worker {@code rank}'s side of the handshake with worker 0 on a connected socket. */
  static PeerChannel connect(Socket s, ExchangeSecurity security, int rank)
      throws IOException, GeneralSecurityException {
    Handshake h = Handshake.open(s, security);
    DataOutputStream o = h.out();
    DataInputStream i = h.in();
    byte[] magic = new byte[MAGIC.length];
    i.readFully(magic);
    if (!MessageDigest.isEqual(magic, MAGIC)) {
      throw new GeneralSecurityException("the exchange's port answered with something else");
    }
    byte[] n0 = new byte[NONCE];
    i.readFully(n0);
    byte[] n1 = nonce();
    byte[] secret = security.secret();
    o.writeInt(rank);
    o.write(n1);
    o.write(mac(secret, "worker", n0, n1, rank));
    o.flush();
    byte[] proof = new byte[32];
    i.readFully(proof);
    if (!MessageDigest.isEqual(proof, mac(secret, "root", n0, n1, rank))) {
      throw new GeneralSecurityException("worker 0 failed to prove it holds the run's secret");
    }
    return new PeerChannel(s, rank, sessionKey(security, secret, n0, n1), false);
  }

  /** The unbuffered streams of a handshake, on a socket that waits at most the handshake's time. */
  private record Handshake(DataInputStream in, DataOutputStream out) {
    static Handshake open(Socket s, ExchangeSecurity security) throws IOException {
      s.setSoTimeout(security.handshakeMillis());
      s.setTcpNoDelay(true);
      return new Handshake(
          new DataInputStream(s.getInputStream()), new DataOutputStream(s.getOutputStream()));
    }
  }

  private static SecretKeySpec sessionKey(
      ExchangeSecurity security, byte[] secret, byte[] n0, byte[] n1)
      throws GeneralSecurityException {
    return security.encrypt() ? new SecretKeySpec(mac(secret, "key", n0, n1, 0), "AES") : null;
  }

  private static byte[] nonce() {
    byte[] n = new byte[NONCE];
    RANDOM.nextBytes(n);
    return n;
  }

  private static byte[] mac(byte[] secret, String label, byte[] n0, byte[] n1, int rank)
      throws GeneralSecurityException {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(secret, "HmacSHA256"));
    mac.update(label.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    mac.update(n0);
    mac.update(n1);
    mac.update(ByteBuffer.allocate(4).putInt(rank).array());
    return mac.doFinal();
  }

  /** Sends one message; returns the bytes put on the wire. */
  long send(byte[] message) throws IOException {
    byte[] wire = key == null ? message : seal(message, sendDirection, sent);
    sent++;
    out.writeInt(wire.length);
    out.write(wire);
    out.flush();
    return 4L + wire.length;
  }

  /**
   * Receives one message of exactly {@code into.length} bytes into {@code into}, polling {@code
   * killed} every second and failing after {@code waitMillis}.
   */
  void receive(byte[] into, BooleanSupplier killed, long waitMillis) throws IOException {
    long deadline = System.nanoTime() + waitMillis * 1_000_000L;
    byte[] header = new byte[4];
    readFully(header, killed, deadline);
    int length = ByteBuffer.wrap(header).getInt();
    int expected = key == null ? into.length : into.length + TAG_BITS / 8;
    if (length != expected) {
      throw new IOException(
          "worker "
              + rank
              + " sent a message of "
              + length
              + " bytes, this one expects "
              + expected
              + " (replicas differ in their parameters)");
    }
    if (key == null) {
      readFully(into, killed, deadline);
    } else {
      byte[] wire = new byte[length];
      readFully(wire, killed, deadline);
      byte[] plain = open(wire, 3 - sendDirection, received);
      System.arraycopy(plain, 0, into, 0, into.length);
    }
    received++;
  }

  private void readFully(byte[] into, BooleanSupplier killed, long deadline) throws IOException {
    int at = 0;
    while (at < into.length) {
      try {
        int n = in.read(into, at, into.length - at);
        if (n < 0) {
          throw new IOException(
              "worker " + rank + " closed the connection (its task failed or was killed)");
        }
        at += n;
      } catch (SocketTimeoutException e) {
        if (killed.getAsBoolean()) {
          throw new IOException("the task was killed");
        }
        if (System.nanoTime() > deadline) {
          throw new IOException("worker " + rank + " sent nothing for too long; giving up");
        }
      }
    }
  }

  private byte[] seal(byte[] plain, int direction, long counter) throws IOException {
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, iv(direction, counter)));
      return c.doFinal(plain);
    } catch (GeneralSecurityException e) {
      throw new IOException("exchange encryption failed: " + e.getMessage(), e);
    }
  }

  private byte[] open(byte[] wire, int direction, long counter) throws IOException {
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, iv(direction, counter)));
      return c.doFinal(wire);
    } catch (GeneralSecurityException e) {
      throw new IOException(
          "a message from worker " + rank + " failed its authentication tag (changed in transit)",
          e);
    }
  }

  private static byte[] iv(int direction, long counter) {
    return ByteBuffer.allocate(12).putInt(direction).putLong(counter).array();
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException e) {
      // closing: nothing left to do
    }
  }
}
