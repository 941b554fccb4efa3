package org.anode.train;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;

/**
 * A training checkpoint: the model's state (parameters and buffers), the optimizer's state and
 * counters, the last finished epoch (0-based), the run's seed (the data order and augmentations of
 * each epoch derive from it) and the run's configuration (model, dataset, optimizer, …), which a
 * resume compares with its own.
 *
 * <p>File format 2: the UTF string {@code anode-checkpoint}, the format number, the payload's
 * length and CRC-32, then the payload (epoch, seed, configuration, tensors, optimizer tensors,
 * counters). Reading checks all of it — magic, version, length, CRC, ranks, dimensions, epoch,
 * dtypes, finite values, no trailing bytes — and reports any failure as {@code <path>: corrupt
 * checkpoint (<reason>)}. Format 1 files (no configuration, no CRC) are still read.
 *
 * <p>Saving writes {@code <name>.tmp} beside the target, forces it to disk, renames it over the
 * target atomically and forces the directory, so that a kill or power loss leaves the previous
 * checkpoint or the new one, never a mix.
 */
public record Checkpoint(
    int epoch,
    long seed,
    Map<String, String> config,
    Map<String, Tensor> model,
    Map<String, Tensor> optimizer,
    Map<String, Long> counters) {

  private static final String MAGIC = "anode-checkpoint";
  private static final String MAGIC_V1 = "anode-checkpoint-1";
  private static final int VERSION = 2;
  private static final int MAX_RANK = 8;
  private static final int MAX_EPOCH = 10_000_000;
  private static final int MAX_ENTRIES = 1_000_000;

  /** A checkpoint without a recorded configuration. */
  public Checkpoint(
      int epoch,
      long seed,
      Map<String, Tensor> model,
      Map<String, Tensor> optimizer,
      Map<String, Long> counters) {
    this(epoch, seed, Map.of(), model, optimizer, counters);
  }

  /**
   * Keys of {@link #config()} that must be equal in a checkpoint and in the run that loads it: they
   * fix the parameters' shapes and meaning, or the optimizer state's.
   */
  public static final java.util.List<String> IDENTITY =
      java.util.List.of("model", "dataset", "width", "depths", "dtype", "optimizer");

  /**
   * The first {@link #IDENTITY} entry recorded here that differs from {@code ours}, as {@code "was
   * written with optimizer sgd, <who> has optimizer adam"}; null when none does (entries either
   * side lacks are not compared).
   */
  public String identityMismatch(Map<String, String> ours, String who) {
    return new Header(epoch, seed, config).identityMismatch(ours, who);
  }

  /** The fixed temporary file a save writes before renaming it to {@code path}. */
  public static Path temporaryFile(Path path) {
    return path.resolveSibling(path.getFileName() + ".tmp");
  }

  /**
   * Deletes what an interrupted save may have left beside {@code path}: the fixed temporary file
   * and the randomly named {@code <name><digits>.tmp} files of earlier versions. Returns how many.
   */
  public static int removeLeftovers(Path path) throws IOException {
    Path dir = path.toAbsolutePath().getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      return 0;
    }
    String name = path.getFileName().toString();
    int removed = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, name + "*.tmp")) {
      for (Path f : files) {
        String middle = f.getFileName().toString();
        middle = middle.substring(name.length(), middle.length() - ".tmp".length());
        if (middle.isEmpty() || middle.chars().allMatch(Character::isDigit)) {
          removed += Files.deleteIfExists(f) ? 1 : 0;
        }
      }
    }
    return removed;
  }

  /**
   * Writes atomically and durably: {@code path.tmp}, fsync, rename over {@code path}, fsync dir.
   */
  public void save(Path path) throws IOException {
    Path dir = path.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    byte[] payload = payload();
    CRC32 crc = new CRC32();
    crc.update(payload);
    Path tmp = temporaryFile(path.toAbsolutePath());
    try {
      try (FileChannel ch =
              FileChannel.open(
                  tmp,
                  StandardOpenOption.CREATE,
                  StandardOpenOption.TRUNCATE_EXISTING,
                  StandardOpenOption.WRITE);
          OutputStream raw = java.nio.channels.Channels.newOutputStream(ch);
          DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(raw))) {
        out.writeUTF(MAGIC);
        out.writeInt(VERSION);
        out.writeLong(payload.length);
        out.writeInt((int) crc.getValue());
        out.write(payload);
        out.flush();
        ch.force(true);
      }
      Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
        d.force(true);
      } catch (IOException e) {
        // Some file systems cannot open a directory for fsync; the rename itself is atomic.
      }
    } catch (IOException e) {
      throw new IOException(path + ": cannot write checkpoint (" + describe(e) + ")", e);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private byte[] payload() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt(epoch);
      out.writeLong(seed);
      out.writeInt(config.size());
      for (var e : config.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeUTF(e.getValue());
      }
      writeTensors(out, model);
      writeTensors(out, optimizer);
      out.writeInt(counters.size());
      for (var e : counters.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeLong(e.getValue());
      }
    }
    return bytes.toByteArray();
  }

  private static void writeTensors(DataOutputStream out, Map<String, Tensor> tensors)
      throws IOException {
    out.writeInt(tensors.size());
    for (var e : tensors.entrySet()) {
      Tensor t = e.getValue();
      out.writeUTF(e.getKey());
      out.writeUTF(t.dtype().name());
      int[] dims = t.shape().dims();
      out.writeInt(dims.length);
      for (int d : dims) {
        out.writeInt(d);
      }
      if (t.dtype() == DType.FLOAT32) {
        for (float v : t.toFloatArray()) {
          out.writeFloat(v);
        }
      } else {
        for (double v : t.toDoubleArray()) {
          out.writeDouble(v);
        }
      }
    }
  }

  /** Reads a checkpoint; its tensors are created on {@code backend} in the current scope. */
  public static Checkpoint load(Path path, Backend backend) throws IOException {
    byte[] file;
    try {
      file = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw new IOException(path + ": no such checkpoint", e);
    } catch (IOException e) {
      throw new IOException(path + ": cannot read checkpoint (" + describe(e) + ")", e);
    }
    try {
      return parse(file, backend);
    } catch (CorruptException | EOFException | java.io.UTFDataFormatException e) {
      String reason = e instanceof EOFException ? "truncated" : e.getMessage();
      throw new IOException(path + ": corrupt checkpoint (" + reason + ")", e);
    }
  }

  /**
   * The last finished epoch (0-based) recorded at {@code path}, read from the header alone: what a
   * driver that holds no model needs to know where to continue. {@link #load} checks the rest.
   */
  public static int readEpoch(Path path) throws IOException {
    return readHeader(path).epoch();
  }

  /** What a checkpoint says of itself before its tensors: epoch, seed and configuration. */
  public record Header(int epoch, long seed, Map<String, String> config) {
    /** As {@link Checkpoint#identityMismatch}, from the header alone. */
    public String identityMismatch(Map<String, String> ours, String who) {
      for (String key : IDENTITY) {
        String theirs = config.get(key);
        String mine = ours.get(key);
        if (theirs != null && mine != null && !theirs.equals(mine)) {
          return "was written with " + key + " " + theirs + ", " + who + " has " + key + " " + mine;
        }
      }
      return null;
    }
  }

  /**
   * The header of the checkpoint at {@code path} without its tensors (nor its CRC check, which
   * {@link #load} makes): what a driver compares with its run before it starts any work.
   */
  public static Header readHeader(Path path) throws IOException {
    try (DataInputStream in =
        new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(path)))) {
      String magic = in.readUTF();
      boolean withConfig = MAGIC.equals(magic);
      if (withConfig) {
        in.readInt(); // version
        in.readLong(); // length
        in.readInt(); // CRC
      } else if (!MAGIC_V1.equals(magic)) {
        throw new IOException(path + ": corrupt checkpoint (not an anode checkpoint)");
      }
      int epoch = in.readInt();
      if (epoch < 0 || epoch > MAX_EPOCH) {
        throw new IOException(path + ": corrupt checkpoint (epoch " + epoch + ")");
      }
      long seed = in.readLong();
      Map<String, String> config = new LinkedHashMap<>();
      if (withConfig) {
        int n = in.readInt();
        if (n < 0 || n > MAX_ENTRIES) {
          throw new IOException(path + ": corrupt checkpoint (" + n + " configuration entries)");
        }
        for (int i = 0; i < n; i++) {
          config.put(in.readUTF(), in.readUTF());
        }
      }
      return new Header(epoch, seed, config);
    } catch (EOFException | java.io.UTFDataFormatException e) {
      throw new IOException(path + ": corrupt checkpoint (truncated)", e);
    }
  }

  private static final class CorruptException extends IOException {
    CorruptException(String reason) {
      super(reason);
    }
  }

  private static Checkpoint parse(byte[] file, Backend backend) throws IOException {
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(file));
    String magic;
    try {
      magic = in.readUTF();
    } catch (IOException e) {
      throw new CorruptException("not an anode checkpoint");
    }
    if (MAGIC_V1.equals(magic)) {
      return body(in, backend, false, file.length);
    }
    if (!MAGIC.equals(magic)) {
      throw new CorruptException("not an anode checkpoint");
    }
    int version = in.readInt();
    if (version != VERSION) {
      throw new CorruptException("format " + version + ", this anode reads formats 1 and 2");
    }
    long length = in.readLong();
    int crc = in.readInt();
    int start = file.length - in.available();
    if (length != file.length - start) {
      throw new CorruptException(
          "payload of " + (file.length - start) + " bytes, the header says " + length);
    }
    CRC32 check = new CRC32();
    check.update(file, start, (int) length);
    if ((int) check.getValue() != crc) {
      throw new CorruptException("CRC mismatch: the payload was changed or damaged");
    }
    return body(in, backend, true, (int) length);
  }

  private static Checkpoint body(DataInputStream in, Backend be, boolean withConfig, int bytes)
      throws IOException {
    int epoch = in.readInt();
    if (epoch < 0 || epoch > MAX_EPOCH) {
      throw new CorruptException("epoch " + epoch + " outside [0, " + MAX_EPOCH + "]");
    }
    long seed = in.readLong();
    Map<String, String> config = new LinkedHashMap<>();
    if (withConfig) {
      int n = count(in, "configuration entries");
      for (int i = 0; i < n; i++) {
        config.put(in.readUTF(), in.readUTF());
      }
    }
    Map<String, Tensor> model = readTensors(in, be);
    Map<String, Tensor> optimizer = readTensors(in, be);
    int n = count(in, "counters");
    Map<String, Long> counters = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      counters.put(in.readUTF(), in.readLong());
    }
    if (in.available() > 0) {
      throw new CorruptException(in.available() + " unexpected bytes after the last entry");
    }
    return new Checkpoint(epoch, seed, config, model, optimizer, counters);
  }

  private static int count(DataInputStream in, String what) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > MAX_ENTRIES || n > in.available()) {
      throw new CorruptException(n + " " + what + " cannot fit in the file");
    }
    return n;
  }

  private static Map<String, Tensor> readTensors(DataInputStream in, Backend be)
      throws IOException {
    int n = count(in, "tensors");
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      String name = in.readUTF();
      String dtypeName = in.readUTF();
      DType dtype;
      try {
        dtype = DType.valueOf(dtypeName);
      } catch (IllegalArgumentException e) {
        throw new CorruptException(name + ": unknown dtype '" + dtypeName + "'");
      }
      int rank = in.readInt();
      if (rank < 0 || rank > MAX_RANK) {
        throw new CorruptException(name + ": rank " + rank + " outside [0, " + MAX_RANK + "]");
      }
      int[] dims = new int[rank];
      long count = 1;
      for (int d = 0; d < rank; d++) {
        dims[d] = in.readInt();
        if (dims[d] < 0) {
          throw new CorruptException(name + ": negative dimension " + dims[d]);
        }
        count *= dims[d];
        if (count * dtype.byteSize() > in.available()) {
          throw new CorruptException(
              name + ": dimensions " + java.util.Arrays.toString(dims) + " exceed the file");
        }
      }
      Shape shape = Shape.of(dims);
      if (dtype == DType.FLOAT32) {
        float[] v = new float[(int) count];
        for (int k = 0; k < v.length; k++) {
          v[k] = in.readFloat();
          finite(name, k, v[k]);
        }
        out.put(name, be.fromArray(v, shape));
      } else {
        double[] v = new double[(int) count];
        for (int k = 0; k < v.length; k++) {
          v[k] = in.readDouble();
          finite(name, k, v[k]);
        }
        out.put(name, be.fromArray(v, shape));
      }
    }
    return out;
  }

  private static void finite(String name, int index, double v) throws CorruptException {
    if (!Double.isFinite(v)) {
      throw new CorruptException(name + ": element " + index + " is " + v);
    }
  }

  /** An I/O error's message, or its type when it has none. */
  static String describe(Throwable e) {
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
  }
}
