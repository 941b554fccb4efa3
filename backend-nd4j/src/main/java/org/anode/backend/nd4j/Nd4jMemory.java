package org.anode.backend.nd4j;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.anode.api.DType;
import org.anode.api.LiveMemory;
import org.anode.api.Shape;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.indexer.DoubleIndexer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.cpu.nativecpu.NDArray;
import org.nd4j.linalg.cpu.nativecpu.buffer.LongBuffer;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Native memory that anode owns and frees itself, wrapped as ND4J arrays.
 *
 * <p>Why: in ND4J 1.0.0-M2.1, {@code INDArray.close()} returns large buffers at once but keeps
 * small ones until the garbage collector runs ND4J's deallocator, and a training step makes
 * hundreds of small arrays (measurements: docs/nd4j-measurements.md). Memory allocated by JavaCPP
 * and handed to ND4J as an external buffer goes back to the {@link NativeBlockPool} the moment a
 * tensor closes, for the next block of its length; only ND4J's small per-array bookkeeping is left
 * to the collector.
 */
final class Nd4jMemory {
  private Nd4jMemory() {}

  /** Where every block comes from and goes back to. */
  static final NativeBlockPool POOL = new NativeBlockPool(NativeBlockPool.LIMIT);

  /**
   * An ND4J array over memory that {@code memory} owns; {@code reported} bytes of it were counted
   * in {@link LiveMemory} as storage beyond a tensor (0 for a tensor's own elements, which {@link
   * org.anode.api.AbstractTensor} counts).
   */
  record Block(INDArray array, Pointer memory, long reported) {
    /** Gives the memory back to the {@linkplain #POOL pool}: nothing may read the array after. */
    void free() {
      POOL.give(memory);
      if (reported > 0) {
        LiveMemory.released(reported);
      }
    }

    /**
     * The same memory, no longer counted here: for a block about to become a tensor's storage,
     * which {@link org.anode.api.AbstractTensor} counts from then on.
     */
    Block handOver() {
      if (reported > 0) {
        LiveMemory.released(reported);
      }
      return new Block(array, memory, 0);
    }
  }

  /**
   * Like {@link #allocate}, counted in {@link LiveMemory} until freed or {@linkplain
   * Block#handOver() handed over} to a tensor: scratch storage, and a result while a kernel fills
   * it.
   */
  static Block scratch(DType dtype, Shape shape) {
    Block b = allocate(dtype, shape);
    long bytes = b.memory().capacity() * dtype.byteSize();
    LiveMemory.allocated(bytes);
    return new Block(b.array(), b.memory(), bytes);
  }

  /** Frees each block that is not null: the results a failed kernel will not hand over. */
  static void freeAll(Block... blocks) {
    for (Block b : blocks) {
      if (b != null) {
        b.free();
      }
    }
  }

  static DataType nd(DType dtype) {
    return dtype == DType.FLOAT32 ? DataType.FLOAT : DataType.DOUBLE;
  }

  /**
   * Uninitialized C-ordered memory for {@code shape} (from the pool: earlier values may remain).
   */
  static Block allocate(DType dtype, Shape shape) {
    long n = Math.max(1, shape.numel());
    Pointer memory = POOL.take(dtype, n);
    DataBuffer buffer =
        dtype == DType.FLOAT32
            ? Nd4j.createBuffer(
                memory, DataType.FLOAT, n, FloatIndexer.create((FloatPointer) memory))
            : Nd4j.createBuffer(
                memory, DataType.DOUBLE, n, DoubleIndexer.create((DoublePointer) memory));
    return new Block(array(buffer, dtype, shape), memory, 0);
  }

  /** C-ordered shape information by element type and dimensions ({@link #array}). */
  private record ShapeKey(DType dtype, Shape shape) {}

  private record ShapeInfo(LongBuffer buffer, long[] java) {}

  /** At most this many shapes are kept: a training run uses a few dozen. */
  static final int SHAPE_INFO_LIMIT = 4096;

  private static final Map<ShapeKey, ShapeInfo> SHAPE_INFO = new ConcurrentHashMap<>();

  /**
   * A C-ordered array of {@code shape} over {@code buffer}, with the shape information of the first
   * array of that shape and type. Why: ND4J builds it anew for every array (a native call, a native
   * buffer and a deallocator registration, ~3/4 of the cost of {@code Nd4j.create}, 2.5% of an
   * ODE-ResNet step; docs/fused-kernels.md), though it depends on nothing but the shape and type
   * and nothing here changes it in place; libnd4j shares it too (its constant shape buffers).
   */
  private static INDArray array(DataBuffer buffer, DType dtype, Shape shape) {
    ShapeKey key = new ShapeKey(dtype, shape);
    ShapeInfo info = SHAPE_INFO.get(key);
    if (info != null) {
      return new NDArray(buffer, info.buffer(), info.java());
    }
    long[] dims = shape.dimsAsLong();
    INDArray array = Nd4j.create(buffer, dims, Nd4j.getStrides(dims, 'c'), 0, 'c', nd(dtype));
    if (SHAPE_INFO.size() < SHAPE_INFO_LIMIT
        && array.shapeInfoDataBuffer() instanceof LongBuffer longs) {
      SHAPE_INFO.putIfAbsent(key, new ShapeInfo(longs, array.shapeInfoJava()));
    }
    return array;
  }
}
