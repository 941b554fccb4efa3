package org.anode.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Fetches the official CIFAR binary archives when they are missing: downloads to a temporary file
 * with a progress bar, checks the MD5 published with the data, and moves the file into place only
 * when it matches. Without network, the error says which file to put where.
 */
public final class CifarDownload {
  private CifarDownload() {}

  /** Where an archive comes from and its checksum. */
  public record Source(URI url, String fileName, String md5) {}

  public static final Source CIFAR10 =
      new Source(
          URI.create("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"),
          "cifar-10-binary.tar.gz",
          "c32a1d4ab5d03f1284b67883e8d87530");

  public static final Source CIFAR100 =
      new Source(
          URI.create("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"),
          "cifar-100-binary.tar.gz",
          "03b5dce01913d631647c71ecec9e9cb8");

  /** The archive in {@code dir}, downloaded first if it is not there. */
  public static Path ensure(Path dir, Source source) throws IOException {
    Path target = dir.resolve(source.fileName());
    if (Files.isRegularFile(target)) {
      return target;
    }
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, source.fileName(), ".part");
    try {
      HttpClient client =
          HttpClient.newBuilder()
              .connectTimeout(Duration.ofSeconds(20))
              .followRedirects(HttpClient.Redirect.NORMAL)
              .build();
      HttpResponse<InputStream> response =
          client.send(
              HttpRequest.newBuilder(source.url()).GET().build(),
              HttpResponse.BodyHandlers.ofInputStream());
      if (response.statusCode() != 200) {
        response.body().close();
        throw new IOException("HTTP " + response.statusCode());
      }
      long length = response.headers().firstValueAsLong("Content-Length").orElse(-1);
      MessageDigest md5 = MessageDigest.getInstance("MD5");
      try (InputStream body = new DigestInputStream(response.body(), md5);
          OutputStream out = Files.newOutputStream(tmp);
          ProgressBar bar =
              new ProgressBarBuilder()
                  .setTaskName(source.fileName())
                  .setInitialMax(length)
                  .setStyle(ProgressBarStyle.ASCII)
                  .setUnit(" MiB", 1 << 20)
                  .build()) {
        byte[] buf = new byte[1 << 16];
        int n;
        while ((n = body.read(buf)) > 0) {
          out.write(buf, 0, n);
          bar.stepBy(n);
        }
      }
      String got = HexFormat.of().formatHex(md5.digest());
      if (!got.equalsIgnoreCase(source.md5())) {
        throw new IOException(
            "checksum mismatch: MD5 "
                + got
                + ", expected "
                + source.md5()
                + " (download damaged?)");
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      return target;
    } catch (IOException | InterruptedException | NoSuchAlgorithmException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new IOException(
          "Could not download "
              + source.url()
              + " ("
              + e.getMessage()
              + "). Put "
              + source.fileName()
              + " (from "
              + source.url()
              + ") into "
              + dir.toAbsolutePath()
              + ", or pass --data with a folder that holds it or its extracted files.",
          e);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
