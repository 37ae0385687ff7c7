package newsflow.es;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.logging.log4j.core.config.Configurator;
import org.elasticsearch.Build;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.ClasspathNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs a single Elasticsearch node in this JVM from the jars on the class path.
 *
 * <pre>
 * java -Xms1g -Xmx1g -cp 'LIB/*' newsflow.es.EsLauncher --home DIR [--port 9200] [--host 127.0.0.1]
 *      [--transport-port 9300-9399] [--cluster-name newsflow] [--node-name newsflow-es] [-E key=value]...
 * </pre>
 *
 * Data, logs and config live under DIR. Prints {@code NEWSFLOW-ES READY http://HOST:PORT} once the node has
 * started. SIGTERM (or Ctrl-C) closes the node and exits 0. See deploy/elasticsearch/LAUNCH.md.
 */
public final class EsLauncher {

    public static final String READY_MARKER = "NEWSFLOW-ES READY";

    private static final List<Class<? extends Plugin>> PLUGINS = List.of(
        Netty4Plugin.class,
        NewsflowAnalysisPlugin.class,
        RootEndpointPlugin.class
    );

    private EsLauncher() {}

    public static void main(String[] args) throws Exception {
        final PrintStream out = System.out;   // kept: log4j redirects System.out once configured
        final PrintStream err = System.err;
        Path home = null;
        String host = "127.0.0.1";
        String port = "9200";
        String transportPort = "9300-9399";
        String clusterName = "newsflow";
        String nodeName = "newsflow-es";
        List<String> extra = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String v = (i + 1 < args.length) ? args[i + 1] : null;
            switch (a) {
                case "--home" -> { home = Paths.get(need(a, v)).toAbsolutePath().normalize(); i++; }
                case "--host" -> { host = need(a, v); i++; }
                case "--port" -> { port = need(a, v); i++; }
                case "--transport-port" -> { transportPort = need(a, v); i++; }
                case "--cluster-name" -> { clusterName = need(a, v); i++; }
                case "--node-name" -> { nodeName = need(a, v); i++; }
                case "-E" -> { extra.add(need(a, v)); i++; }
                case "-h", "--help" -> { usage(out); return; }
                default -> {
                    if (a.startsWith("-E") && a.length() > 2) {
                        extra.add(a.substring(2));
                    } else {
                        err.println("unknown argument: " + a);
                        usage(err);
                        System.exit(2);
                    }
                }
            }
        }
        if (home == null) {
            err.println("--home DIR is required");
            usage(err);
            System.exit(2);
        }

        // What the ES distribution's jvm.options would set; before any Netty / log4j class loads.
        setDefault("io.netty.noUnsafe", "true");
        setDefault("io.netty.noKeySetOptimization", "true");
        setDefault("io.netty.recycler.maxCapacityPerThread", "0");
        setDefault("log4j.shutdownHookEnabled", "false");
        setDefault("log4j2.disable.jmx", "true");
        setDefault("log4j2.formatMsgNoLookups", "true");
        setDefault("java.io.tmpdir", home.resolve("tmp").toString());

        Path config = home.resolve("config");
        Files.createDirectories(config);
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));
        Files.createDirectories(home.resolve("tmp"));
        try (InputStream in = EsLauncher.class.getResourceAsStream("/newsflow-es/log4j2.properties")) {
            if (in == null) {
                throw new IllegalStateException("log4j2.properties missing from the launcher jar");
            }
            Files.copy(in, config.resolve("log4j2.properties"), StandardCopyOption.REPLACE_EXISTING);
        }

        Settings.Builder sb = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", clusterName)
            .put("node.name", nodeName)
            .put("discovery.type", "single-node")
            .put("network.host", host)
            .put("http.port", port)
            .put("transport.port", transportPort)
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("node.portsfile", true)
            // a dev/CI machine's disk may be fuller than production watermarks allow
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.destructive_requires_name", false);
        for (String kv : extra) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("-E expects key=value, got [" + kv + "]");
            }
            sb.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        // elasticsearch.yml in HOME/config (optional) is read too; command-line settings win.
        Environment env = InternalSettingsPreparer.prepareEnvironment(sb.build(), Collections.emptyMap(), config, () -> "newsflow-es");

        LogConfigurator.registerErrorListener();
        LogConfigurator.setClusterName(clusterName);
        LogConfigurator.setNodeName(nodeName);
        LogConfigurator.configure(env, true);
        Logger logger = LogManager.getLogger(EsLauncher.class);
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> logger.error("uncaught exception in thread [" + t.getName() + "]", e));

        Files.writeString(home.resolve("es.pid"), Long.toString(ProcessHandle.current().pid()) + "\n", StandardCharsets.US_ASCII);

        long t0 = System.nanoTime();
        final Node node;
        try {
            node = new ClasspathNode(env, PLUGINS);
        } catch (Throwable t) {
            fail(logger, err, t);
            return;
        }
        final CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                logger.info("shutting down");
                node.close();
                if (node.awaitClose(20, TimeUnit.SECONDS) == false) {
                    logger.warn("node did not close within 20s");
                }
            } catch (Throwable t) {
                logger.warn("error while closing node", t);
            } finally {
                closed.countDown();
                Configurator.shutdown((org.apache.logging.log4j.core.LoggerContext) LogManager.getContext(false));
            }
        }, "newsflow-es-shutdown"));

        try {
            node.start();
        } catch (Throwable t) {
            fail(logger, err, t);
        }
        HttpServerTransport http = node.injector().getInstance(HttpServerTransport.class);
        String address = http.boundAddress().publishAddress().toString();
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        logger.info("Elasticsearch {} started in {} ms, http on {}", Build.current().version(), ms, address);
        out.println(READY_MARKER + " http://" + address + " (Elasticsearch " + Build.current().version() + ", " + ms + " ms)");
        out.flush();
        closed.await();
    }

    /** Start failure: log it, then exit 1 at once (threads the half-built node started must not keep the JVM up). */
    private static void fail(Logger logger, PrintStream err, Throwable t) {
        logger.error("node failed to start", t);
        err.println("newsflow-es: node failed to start: " + t);
        err.flush();
        Configurator.shutdown((org.apache.logging.log4j.core.LoggerContext) LogManager.getContext(false));
        Runtime.getRuntime().halt(1);
    }

    private static String need(String flag, String value) {
        if (value == null) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return value;
    }

    private static void setDefault(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    private static void usage(PrintStream s) {
        s.println("usage: java -Xms1g -Xmx1g -cp 'LIB/*' newsflow.es.EsLauncher --home DIR [--port 9200] [--host 127.0.0.1]");
        s.println("       [--transport-port 9300-9399] [--cluster-name newsflow] [--node-name newsflow-es] [-E key=value]...");
    }
}
