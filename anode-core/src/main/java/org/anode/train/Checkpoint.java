package org.anode.train;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;

/**
 * A training checkpoint: the model's state (parameters and buffers), the optimizer's state and
 * counters, the last finished epoch and the run's seed (the data order and augmentations of each
 * epoch derive from it). Written to a temporary file and renamed into place, so that a kill during
 * a save leaves the previous checkpoint intact.
 */
public record Checkpoint(
    int epoch,
    long seed,
    Map<String, Tensor> model,
    Map<String, Tensor> optimizer,
    Map<String, Long> counters) {

  private static final String MAGIC = "anode-checkpoint-1";

  /** Writes atomically: {@code path.tmp}, then a rename over {@code path}. */
  public void save(Path path) throws IOException {
    Path dir = path.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, path.getFileName().toString(), ".tmp");
    try {
      try (DataOutputStream out =
          new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp)))) {
        out.writeUTF(MAGIC);
        out.writeInt(epoch);
        out.writeLong(seed);
        writeTensors(out, model);
        writeTensors(out, optimizer);
        out.writeInt(counters.size());
        for (var e : counters.entrySet()) {
          out.writeUTF(e.getKey());
          out.writeLong(e.getValue());
        }
      }
      Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
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
    try (DataInputStream in =
        new DataInputStream(new BufferedInputStream(Files.newInputStream(path)))) {
      String magic = in.readUTF();
      if (!MAGIC.equals(magic)) {
        throw new IOException(path + ": not an anode checkpoint");
      }
      int epoch = in.readInt();
      long seed = in.readLong();
      Map<String, Tensor> model = readTensors(in, backend, path);
      Map<String, Tensor> optimizer = readTensors(in, backend, path);
      int n = in.readInt();
      Map<String, Long> counters = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) {
        counters.put(in.readUTF(), in.readLong());
      }
      return new Checkpoint(epoch, seed, model, optimizer, counters);
    } catch (java.io.EOFException e) {
      throw new IOException(path + ": truncated checkpoint", e);
    }
  }

  private static Map<String, Tensor> readTensors(DataInputStream in, Backend be, Path path)
      throws IOException {
    int n = in.readInt();
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      String name = in.readUTF();
      DType dtype = DType.valueOf(in.readUTF());
      int[] dims = new int[in.readInt()];
      for (int d = 0; d < dims.length; d++) {
        dims[d] = in.readInt();
      }
      Shape shape = Shape.of(dims);
      int count = (int) shape.numel();
      if (dtype == DType.FLOAT32) {
        float[] v = new float[count];
        for (int k = 0; k < count; k++) {
          v[k] = in.readFloat();
        }
        out.put(name, be.fromArray(v, shape));
      } else {
        double[] v = new double[count];
        for (int k = 0; k < count; k++) {
          v[k] = in.readDouble();
        }
        out.put(name, be.fromArray(v, shape));
      }
    }
    return out;
  }
}
