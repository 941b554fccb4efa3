package org.anode.backend.nd4j;

import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_direct;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx2;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx2_vnni;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core_amx;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core_bf16;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core_fp16;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core_vnni;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_sse41;
import static org.bytedeco.dnnl.global.dnnl.dnnl_get_effective_cpu_isa;
import static org.bytedeco.dnnl.global.dnnl.dnnl_version;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.dnnl.dnnl_version_t;

/**
 * What the ND4J backend computes with on this machine ({@link org.anode.api.Backend#kernels}): the
 * route of float32 convolutions (oneDNN called directly, with its version, ISA, block size and
 * algorithm, or libnd4j's kernels and why), and how native memory is allocated.
 */
final class Nd4jKernelReport {
  private Nd4jKernelReport() {}

  /** oneDNN's ISA values, with the names its verbose mode prints. */
  private static final Map<Integer, String> ISA =
      Map.of(
          dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx",
          dnnl_cpu_isa_avx512_core_fp16, "avx512_core_fp16",
          dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16",
          dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni",
          dnnl_cpu_isa_avx512_core, "avx512_core",
          dnnl_cpu_isa_avx2_vnni, "avx2_vnni",
          dnnl_cpu_isa_avx2, "avx2",
          dnnl_cpu_isa_avx, "avx",
          dnnl_cpu_isa_sse41, "sse41");

  static List<String> lines() {
    List<String> out = new ArrayList<>();
    out.add("float32 convolutions: " + convolutions());
    out.add(
        "other kernels: libnd4j's (ND4J "
            + nd4jVersion()
            + "), with its own oneDNN for batch norm and matrix products");
    out.add(
        "native memory: "
            + AlignedMemory.ALIGNMENT
            + "-byte-aligned blocks, freed ones pooled up to "
            + (NativeBlockPool.LIMIT >> 20)
            + " MiB (-D"
            + NativeBlockPool.PROPERTY
            + ")");
    return out;
  }

  private static String convolutions() {
    if (!OneDnn.available()) {
      return "libnd4j's kernels (fallback: oneDNN is not called directly, "
          + OneDnn.unavailable()
          + ")";
    }
    if (!OneDnn.enabled()) {
      return "libnd4j's kernels (fallback: -D" + OneDnn.PROPERTY + "=false)";
    }
    dnnl_version_t v = dnnl_version();
    StorageLayout layout = OneDnn.blockedLayout();
    int block = layout.block();
    String isa =
        ISA.getOrDefault(dnnl_get_effective_cpu_isa(), "ISA " + dnnl_get_effective_cpu_isa());
    StringBuilder s =
        new StringBuilder(
            String.format(
                "oneDNN %d.%d.%d called directly, ISA %s, activations in blocks of %d channels"
                    + " (nChw%dc)",
                v.major(), v.minor(), v.patch(), isa, block, block));
    if (layout != OneDnn.nativeBlockedLayout()) {
      s.append(
          layout == StorageLayout.BLOCKED16
              ? " (fallback to oneDNN's reference kernels: blocks of 16 without AVX-512)"
              : " (set by -D" + OneDnn.BLOCK_PROPERTY + ")");
    }
    s.append(
        OneDnnConvolutions.requestedAlgorithm() == dnnl_convolution_direct
            ? ", direct algorithm (-D" + OneDnnConvolutions.ALGORITHM + "=direct)"
            : ", algorithm chosen by oneDNN (Winograd F(4×4, 3×3) for 3×3 convolutions where it"
                + " pays, with AVX-512)");
    return s.toString();
  }

  /** ND4J's version, from the Maven metadata in its jar. */
  private static String nd4jVersion() {
    try (java.io.InputStream in =
        org.nd4j.linalg.factory.Nd4j.class.getResourceAsStream(
            "/META-INF/maven/org.nd4j/nd4j-api/pom.properties")) {
      java.util.Properties p = new java.util.Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "version unknown");
    } catch (java.io.IOException e) {
      return "version unknown";
    }
  }
}
