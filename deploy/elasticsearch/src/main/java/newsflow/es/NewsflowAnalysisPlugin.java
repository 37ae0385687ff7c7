package newsflow.es;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.StopFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.ar.ArabicAnalyzer;
import org.apache.lucene.analysis.ar.ArabicNormalizationFilter;
import org.apache.lucene.analysis.ar.ArabicStemFilter;
import org.apache.lucene.analysis.charfilter.HTMLStripCharFilter;
import org.apache.lucene.analysis.charfilter.MappingCharFilter;
import org.apache.lucene.analysis.charfilter.NormalizeCharMap;
import org.apache.lucene.analysis.core.DecimalDigitFilter;
import org.apache.lucene.analysis.core.KeywordAnalyzer;
import org.apache.lucene.analysis.core.KeywordTokenizer;
import org.apache.lucene.analysis.core.LetterTokenizer;
import org.apache.lucene.analysis.core.SimpleAnalyzer;
import org.apache.lucene.analysis.core.StopAnalyzer;
import org.apache.lucene.analysis.core.UpperCaseFilter;
import org.apache.lucene.analysis.core.WhitespaceAnalyzer;
import org.apache.lucene.analysis.core.WhitespaceTokenizer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.en.EnglishMinimalStemFilter;
import org.apache.lucene.analysis.en.EnglishPossessiveFilter;
import org.apache.lucene.analysis.en.KStemFilter;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.apache.lucene.analysis.fa.PersianNormalizationFilter;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.apache.lucene.analysis.miscellaneous.LengthFilter;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.apache.lucene.analysis.miscellaneous.TrimFilter;
import org.apache.lucene.analysis.ngram.EdgeNGramTokenFilter;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.apache.lucene.analysis.snowball.SnowballFilter;
import org.apache.lucene.analysis.classic.ClassicTokenizer;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.AbstractTokenizerFactory;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.CharFilterFactory;
import org.elasticsearch.index.analysis.NormalizingCharFilterFactory;
import org.elasticsearch.index.analysis.NormalizingTokenFilterFactory;
import org.elasticsearch.index.analysis.PreBuiltAnalyzerProviderFactory;
import org.elasticsearch.index.analysis.PreConfiguredCharFilter;
import org.elasticsearch.index.analysis.PreConfiguredTokenFilter;
import org.elasticsearch.index.analysis.PreConfiguredTokenizer;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.indices.analysis.PreBuiltCacheFactory.CachingStrategy;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

import java.io.Reader;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.elasticsearch.plugins.AnalysisPlugin.requiresAnalysisSettings;

/**
 * The part of Elasticsearch's {@code analysis-common} module that newsflow needs (that module is not published
 * to Maven Central). Registers Lucene's own analysis classes under the standard Elasticsearch names, reading
 * settings the way Elasticsearch does, so index templates written for a production cluster work unchanged.
 *
 * <p>Analyzers: arabic, english, whitespace, simple, stop, keyword (types and pre-built).
 * Token filters: arabic_normalization, arabic_stem, persian_normalization, stemmer, lowercase, uppercase,
 * decimal_digit, asciifolding, trim, length, remove_duplicates, edge_ngram, pattern_capture, kstem, porter_stem
 * (core: stop, shingle, hunspell). Char filters: mapping, html_strip. Tokenizers: whitespace, keyword,
 * letter, classic, uax_url_email (core: standard).
 */
public class NewsflowAnalysisPlugin extends Plugin implements AnalysisPlugin {

    // ---------------------------------------------------------------- analyzers

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> m = new TreeMap<>();
        m.put("arabic", (is, env, name, s) -> provider(name, s, new ArabicAnalyzer(
            Analysis.parseStopWords(env, s, ArabicAnalyzer.getDefaultStopSet()),
            Analysis.parseStemExclusion(s, CharArraySet.EMPTY_SET))));
        m.put("english", (is, env, name, s) -> provider(name, s, new EnglishAnalyzer(
            Analysis.parseStopWords(env, s, EnglishAnalyzer.ENGLISH_STOP_WORDS_SET),
            Analysis.parseStemExclusion(s, CharArraySet.EMPTY_SET))));
        m.put("stop", (is, env, name, s) -> provider(name, s,
            new StopAnalyzer(Analysis.parseStopWords(env, s, EnglishAnalyzer.ENGLISH_STOP_WORDS_SET))));
        m.put("whitespace", (is, env, name, s) -> provider(name, s,
            new WhitespaceAnalyzer(s.getAsInt("max_token_length", 255))));
        m.put("simple", (is, env, name, s) -> provider(name, s, new SimpleAnalyzer()));
        m.put("keyword", (is, env, name, s) -> provider(name, s, new KeywordAnalyzer()));
        return m;
    }

    @Override
    public List<PreBuiltAnalyzerProviderFactory> getPreBuiltAnalyzerProviderFactories() {
        return List.of(
            new PreBuiltAnalyzerProviderFactory("arabic", CachingStrategy.LUCENE, ArabicAnalyzer::new),
            new PreBuiltAnalyzerProviderFactory("english", CachingStrategy.LUCENE, EnglishAnalyzer::new),
            new PreBuiltAnalyzerProviderFactory("stop", CachingStrategy.LUCENE,
                () -> new StopAnalyzer(EnglishAnalyzer.ENGLISH_STOP_WORDS_SET)),
            new PreBuiltAnalyzerProviderFactory("whitespace", CachingStrategy.LUCENE, WhitespaceAnalyzer::new),
            new PreBuiltAnalyzerProviderFactory("simple", CachingStrategy.LUCENE, SimpleAnalyzer::new)
        );
    }

    private static <A extends Analyzer> AnalyzerProvider<A> provider(String name, Settings settings, A analyzer) {
        return new AbstractIndexAnalyzerProvider<A>(name, settings) {
            @Override
            public A get() {
                return analyzer;
            }
        };
    }

    // ---------------------------------------------------------------- token filters

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        Map<String, AnalysisProvider<TokenFilterFactory>> m = new TreeMap<>();
        m.put("arabic_normalization", (is, env, name, s) -> normalizing(name, s, ArabicNormalizationFilter::new));
        m.put("persian_normalization", (is, env, name, s) -> normalizing(name, s, PersianNormalizationFilter::new));
        m.put("decimal_digit", (is, env, name, s) -> normalizing(name, s, DecimalDigitFilter::new));
        m.put("trim", (is, env, name, s) -> normalizing(name, s, TrimFilter::new));
        m.put("uppercase", (is, env, name, s) -> normalizing(name, s, UpperCaseFilter::new));
        m.put("lowercase", (is, env, name, s) -> {
            String lang = s.get("language");
            if (lang != null) {
                throw new IllegalArgumentException("language [" + lang + "] not supported for lower case by this node");
            }
            return normalizing(name, s, LowerCaseFilter::new);
        });
        m.put("asciifolding", (is, env, name, s) -> {
            boolean preserve = s.getAsBoolean("preserve_original", false);
            return new NormalizingFilter(name, s, ts -> new ASCIIFoldingFilter(ts, preserve)) {
                @Override
                public TokenStream normalize(TokenStream ts) {
                    return new ASCIIFoldingFilter(ts, false); // normalization must emit one token
                }
            };
        });
        m.put("arabic_stem", (is, env, name, s) -> filter(name, s, ArabicStemFilter::new));
        m.put("kstem", (is, env, name, s) -> filter(name, s, KStemFilter::new));
        m.put("porter_stem", (is, env, name, s) -> filter(name, s, PorterStemFilter::new));
        m.put("remove_duplicates", (is, env, name, s) -> filter(name, s, RemoveDuplicatesTokenFilter::new));
        m.put("stemmer", (is, env, name, s) -> {
            // Elasticsearch reads "language", falling back to "name", default "porter"
            String language = s.get("language", s.get("name", "porter"));
            return filter(name, s, stemmer(language));
        });
        m.put("length", (is, env, name, s) -> {
            int min = s.getAsInt("min", 0);
            int max = s.getAsInt("max", Integer.MAX_VALUE);
            return filter(name, s, ts -> new LengthFilter(ts, min, max));
        });
        m.put("pattern_capture", requiresAnalysisSettings((is, env, name, s) -> {
            // As Elasticsearch: "patterns" required, "preserve_original" defaults to true.
            List<String> patterns = s.getAsList("patterns");
            if (patterns.isEmpty()) {
                throw new IllegalArgumentException("required setting 'patterns' is missing for token filter [" + name + "]");
            }
            Pattern[] compiled = patterns.stream().map(Pattern::compile).toArray(Pattern[]::new);
            boolean preserve = s.getAsBoolean("preserve_original", true);
            return filter(name, s, ts -> new PatternCaptureGroupTokenFilter(ts, preserve, compiled));
        }));
        m.put("edge_ngram", (is, env, name, s) -> {
            int min = s.getAsInt("min_gram", 1);
            int max = s.getAsInt("max_gram", 2);
            boolean preserve = s.getAsBoolean("preserve_original", false);
            return filter(name, s, ts -> new EdgeNGramTokenFilter(ts, min, max, preserve));
        });
        return m;
    }

    /** The {@code stemmer} filter's languages that matter here, plus any Snowball stemmer Lucene ships. */
    static Function<TokenStream, TokenStream> stemmer(String language) {
        switch (language.toLowerCase(Locale.ROOT)) {
            case "arabic":
                return ArabicStemFilter::new;
            case "english":
            case "porter":
                return PorterStemFilter::new;
            case "light_english":
            case "kstem":
                return KStemFilter::new;
            case "minimal_english":
                return EnglishMinimalStemFilter::new;
            case "possessive_english":
                return EnglishPossessiveFilter::new;
            case "porter2":
                return ts -> new SnowballFilter(ts, new org.tartarus.snowball.ext.EnglishStemmer());
            default:
                String snowball = Character.toUpperCase(language.charAt(0)) + language.substring(1).toLowerCase(Locale.ROOT);
                try {
                    Class.forName("org.tartarus.snowball.ext." + snowball + "Stemmer");
                } catch (ClassNotFoundException e) {
                    throw new IllegalArgumentException("stemmer language [" + language + "] is not supported by this node");
                }
                return ts -> new SnowballFilter(ts, snowball);
        }
    }

    @Override
    public List<PreConfiguredTokenFilter> getPreConfiguredTokenFilters() {
        return List.of(
            PreConfiguredTokenFilter.singleton("arabic_normalization", true, ArabicNormalizationFilter::new),
            PreConfiguredTokenFilter.singleton("arabic_stem", false, ArabicStemFilter::new),
            PreConfiguredTokenFilter.singleton("persian_normalization", true, PersianNormalizationFilter::new),
            PreConfiguredTokenFilter.singleton("asciifolding", true, ASCIIFoldingFilter::new),
            PreConfiguredTokenFilter.singleton("decimal_digit", true, DecimalDigitFilter::new),
            PreConfiguredTokenFilter.singleton("trim", true, TrimFilter::new),
            PreConfiguredTokenFilter.singleton("uppercase", true, UpperCaseFilter::new),
            PreConfiguredTokenFilter.singleton("kstem", false, KStemFilter::new),
            PreConfiguredTokenFilter.singleton("porter_stem", false, PorterStemFilter::new),
            PreConfiguredTokenFilter.singleton("stemmer", false, PorterStemFilter::new),
            PreConfiguredTokenFilter.singleton("remove_duplicates", false, RemoveDuplicatesTokenFilter::new),
            PreConfiguredTokenFilter.singleton("edge_ngram", false, false, ts -> new EdgeNGramTokenFilter(ts, 1)),
            PreConfiguredTokenFilter.singleton("stop", false,
                ts -> new StopFilter(ts, EnglishAnalyzer.ENGLISH_STOP_WORDS_SET))
        );
    }

    private static TokenFilterFactory filter(String name, Settings s, Function<TokenStream, TokenStream> create) {
        return new AbstractTokenFilterFactory(name, s) {
            @Override
            public TokenStream create(TokenStream ts) {
                return create.apply(ts);
            }
        };
    }

    private static TokenFilterFactory normalizing(String name, Settings s, Function<TokenStream, TokenStream> create) {
        return new NormalizingFilter(name, s, create);
    }

    private static class NormalizingFilter extends AbstractTokenFilterFactory implements NormalizingTokenFilterFactory {
        private final Function<TokenStream, TokenStream> create;

        NormalizingFilter(String name, Settings s, Function<TokenStream, TokenStream> create) {
            super(name, s);
            this.create = create;
        }

        @Override
        public TokenStream create(TokenStream ts) {
            return create.apply(ts);
        }
    }

    // ---------------------------------------------------------------- char filters

    @Override
    public Map<String, AnalysisProvider<CharFilterFactory>> getCharFilters() {
        Map<String, AnalysisProvider<CharFilterFactory>> m = new TreeMap<>();
        m.put("mapping", requiresAnalysisSettings((is, env, name, s) -> {
            List<String> rules = Analysis.getWordList(env, s, "mappings");
            if (rules == null) {
                throw new IllegalArgumentException("mapping requires either `mappings` or `mappings_path` to be configured");
            }
            NormalizeCharMap map = parseMappingRules(rules);
            return new NormalizingCharFilterFactory() {
                @Override
                public String name() {
                    return name;
                }

                @Override
                public Reader create(Reader reader) {
                    return new MappingCharFilter(map, reader);
                }
            };
        }));
        m.put("html_strip", (is, env, name, s) -> {
            List<String> tags = s.getAsList("escaped_tags");
            Set<String> escaped = tags.isEmpty() ? null : new HashSet<>(tags);
            return new CharFilterFactory() {
                @Override
                public String name() {
                    return name;
                }

                @Override
                public Reader create(Reader reader) {
                    return new HTMLStripCharFilter(reader, escaped);
                }
            };
        });
        return m;
    }

    @Override
    public List<PreConfiguredCharFilter> getPreConfiguredCharFilters() {
        return List.of(PreConfiguredCharFilter.singleton("html_strip", false, HTMLStripCharFilter::new));
    }

    private static final Pattern RULE = Pattern.compile("(.*)\\s*=>\\s*(.*)\\s*$");

    /** Rules of the form {@code source => target}, with \\uXXXX, \\n, \\t, \\r, \\b, \\f and \\\\ escapes (as in ES). */
    static NormalizeCharMap parseMappingRules(List<String> rules) {
        NormalizeCharMap.Builder builder = new NormalizeCharMap.Builder();
        for (String rule : rules) {
            Matcher m = RULE.matcher(rule);
            if (m.find() == false) {
                throw new IllegalArgumentException("Invalid Mapping Rule : [" + rule + "]");
            }
            String lhs = unescape(m.group(1).trim());
            String rhs = unescape(m.group(2).trim());
            if (lhs.isEmpty()) {
                throw new IllegalArgumentException("Invalid Mapping Rule : [" + rule + "]. Illegal mapping.");
            }
            builder.add(lhs, rhs);
        }
        return builder.build();
    }

    private static String unescape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (++i >= s.length()) {
                throw new IllegalArgumentException("Invalid escaped char in [" + s + "]");
            }
            char e = s.charAt(i);
            switch (e) {
                case 'n' -> out.append('\n');
                case 't' -> out.append('\t');
                case 'r' -> out.append('\r');
                case 'b' -> out.append('\b');
                case 'f' -> out.append('\f');
                case 'u' -> {
                    if (i + 4 >= s.length()) {
                        throw new IllegalArgumentException("Invalid escaped char in [" + s + "]");
                    }
                    out.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                default -> out.append(e); // covers \\ and any other escaped char
            }
        }
        return out.toString();
    }

    // ---------------------------------------------------------------- tokenizers

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        Map<String, AnalysisProvider<TokenizerFactory>> m = new TreeMap<>();
        m.put("whitespace", (is, env, name, s) -> {
            int max = s.getAsInt("max_token_length", 255);
            return tokenizer(is, s, name, () -> new WhitespaceTokenizer(max));
        });
        m.put("keyword", (is, env, name, s) -> {
            int buffer = s.getAsInt("buffer_size", 256);
            return tokenizer(is, s, name, () -> new KeywordTokenizer(buffer));
        });
        m.put("letter", (is, env, name, s) -> tokenizer(is, s, name, LetterTokenizer::new));
        m.put("classic", (is, env, name, s) -> {
            int max = s.getAsInt("max_token_length", 255);
            return tokenizer(is, s, name, () -> {
                ClassicTokenizer t = new ClassicTokenizer();
                t.setMaxTokenLength(max);
                return t;
            });
        });
        m.put("uax_url_email", (is, env, name, s) -> {
            int max = s.getAsInt("max_token_length", 255);
            return tokenizer(is, s, name, () -> {
                UAX29URLEmailTokenizer t = new UAX29URLEmailTokenizer();
                t.setMaxTokenLength(max);
                return t;
            });
        });
        return m;
    }

    @Override
    public List<PreConfiguredTokenizer> getPreConfiguredTokenizers() {
        return List.of(
            PreConfiguredTokenizer.singleton("whitespace", WhitespaceTokenizer::new),
            PreConfiguredTokenizer.singleton("keyword", KeywordTokenizer::new),
            PreConfiguredTokenizer.singleton("letter", LetterTokenizer::new),
            PreConfiguredTokenizer.singleton("classic", ClassicTokenizer::new),
            PreConfiguredTokenizer.singleton("uax_url_email", UAX29URLEmailTokenizer::new)
        );
    }

    private static TokenizerFactory tokenizer(IndexSettings is, Settings s, String name, Supplier<Tokenizer> create) {
        return new AbstractTokenizerFactory(is, s, name) {
            @Override
            public Tokenizer create() {
                return create.get();
            }
        };
    }
}
