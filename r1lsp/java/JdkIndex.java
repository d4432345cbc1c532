// Writes the public and protected API of JDK modules (stdout), read by r1lsp/java/jdk.py.
// Run: java r1lsp/java/JdkIndex.java java.base java.sql ... | gzip -9n > r1lsp/java/jdk-api.txt.gz
// (`make jdk-index`). Reflection over the running JDK's module image (jrt:/): only exported
// packages, public classes, public and protected fields and methods (bridge and synthetic ones
// dropped; protected ones flagged: the resolver offers them where a subclass may use them).
//
// First line: {"jdk": "17.0.15", "modules": [...]}; then one line per class, its binary name, a
// tab and a JSON array (decoded only when the class is first looked up):
//     java.util.List<TAB>[kind, [type params], [supertypes], [[field, type, static(, "p")]...],
//      [[method, [param types], return type, flags, [type params]]...]]}}
// kind: c class, i interface, e enum, r record, a annotation. flags: s static, a abstract,
// v varargs, p protected (a field's fourth element "p": protected). Types are written with binary names (java.util.Map$Entry<K,V>, E[], int,
// ? extends E); a type variable is its bare name.
import java.lang.module.ModuleDescriptor;
import java.lang.reflect.*;
import java.net.URI;
import java.nio.file.*;
import java.util.*;
import java.util.stream.*;

public class JdkIndex {
    public static void main(String[] args) throws Exception {
        FileSystem jrt = FileSystems.getFileSystem(URI.create("jrt:/"));
        StringBuilder out = new StringBuilder();
        out.append("{\"jdk\":").append(q(System.getProperty("java.version")));
        out.append(",\"modules\":[").append(Arrays.stream(args).map(JdkIndex::q).collect(Collectors.joining(",")));
        out.append("]}\n");
        for (String mod : args) {
            Module module = ModuleLayer.boot().findModule(mod).orElseThrow(() -> new IllegalArgumentException("no module " + mod));
            Set<String> exported = module.getDescriptor().exports().stream()
                .filter(e -> !e.isQualified()).map(ModuleDescriptor.Exports::source).collect(Collectors.toSet());
            Path root = jrt.getPath("/modules", mod);
            List<String> names;
            try (Stream<Path> files = Files.walk(root)) {
                names = files.map(p -> root.relativize(p).toString())
                    .filter(s -> s.endsWith(".class") && !s.equals("module-info.class"))
                    .map(s -> s.substring(0, s.length() - 6).replace('/', '.'))
                    .filter(s -> { int i = s.lastIndexOf('.'); return i > 0 && exported.contains(s.substring(0, i)); })
                    .sorted().collect(Collectors.toList());
            }
            Set<String> written = new HashSet<>();
            for (String name : names) {
                Class<?> c;
                try { c = Class.forName(module, name); } catch (Throwable t) { continue; }
                if (c == null || !visible(c) || c.isAnonymousClass() || c.isLocalClass() || c.isSynthetic()) continue;
                write(c, out, written);
                // a package-private superclass (AbstractStringBuilder) declares public members
                // its public subclasses inherit (StringBuilder.setLength): written too
                for (Class<?> s = c.getSuperclass(); s != null && !visible(s); s = s.getSuperclass())
                    write(s, out, written);
            }
        }
        System.out.print(out);
    }

    static void write(Class<?> c, StringBuilder out, Set<String> written) {
        if (!written.add(c.getName())) return;
        String entry;
        try { entry = describe(c); } catch (Throwable t) { return; }
        out.append(c.getName()).append("\t").append(entry).append("\n");
    }

    static boolean visible(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getDeclaringClass())
            if (!Modifier.isPublic(k.getModifiers())) return false;
        return true;
    }

    static String describe(Class<?> c) {
        String kind = c.isAnnotation() ? "a" : c.isInterface() ? "i" : c.isEnum() ? "e" : c.isRecord() ? "r" : "c";
        List<String> supers = new ArrayList<>();
        if (c.getGenericSuperclass() != null) supers.add(type(c.getGenericSuperclass()));
        for (Type t : c.getGenericInterfaces()) supers.add(type(t));
        List<String> fields = new ArrayList<>();
        for (Field f : c.getDeclaredFields()) {
            int m = f.getModifiers();
            if (!(Modifier.isPublic(m) || Modifier.isProtected(m)) || f.isSynthetic()) continue;
            fields.add("[" + q(f.getName()) + "," + q(type(f.getGenericType())) + "," + (Modifier.isStatic(m) ? 1 : 0)
                + (Modifier.isProtected(m) ? ",\"p\"" : "") + "]");
        }
        List<String> methods = new ArrayList<>();
        Method[] declared = c.getDeclaredMethods();
        Arrays.sort(declared, Comparator.comparing(Method::getName).thenComparing(Method::getParameterCount)
            .thenComparing(Method::toGenericString));
        for (Method m : declared) {
            int mod = m.getModifiers();
            if (!(Modifier.isPublic(mod) || Modifier.isProtected(mod)) || m.isBridge() || m.isSynthetic()) continue;
            String params = Arrays.stream(m.getGenericParameterTypes()).map(JdkIndex::type).map(JdkIndex::q).collect(Collectors.joining(","));
            String flags = (Modifier.isStatic(mod) ? "s" : "") + (Modifier.isAbstract(mod) ? "a" : "") + (m.isVarArgs() ? "v" : "")
                + (Modifier.isProtected(mod) ? "p" : "");
            StringBuilder sb = new StringBuilder("[").append(q(m.getName())).append(",[").append(params).append("],")
                .append(q(type(m.getGenericReturnType()))).append(",").append(q(flags));
            if (m.getTypeParameters().length > 0) sb.append(",").append(tparams(m.getTypeParameters()));
            methods.add(sb.append("]").toString());
        }
        return "[" + q(kind) + "," + tparams(c.getTypeParameters()) + ",[" + supers.stream().map(JdkIndex::q).collect(Collectors.joining(","))
            + "],[" + String.join(",", fields) + "],[" + String.join(",", methods) + "]]";
    }

    // Type parameters with their first bound when it is not Object: ["E", "T:java.lang.Comparable<T>"].
    static String tparams(TypeVariable<?>[] vars) {
        return "[" + Arrays.stream(vars).map(v -> {
            Type[] b = v.getBounds();
            String bound = b.length > 0 && b[0] != Object.class ? ":" + type(b[0]) : "";
            return q(v.getName() + bound);
        }).collect(Collectors.joining(",")) + "]";
    }

    static String type(Type t) {
        if (t instanceof Class<?> k) {
            if (k.isArray()) return type(k.getComponentType()) + "[]";
            return k.getName();
        }
        if (t instanceof ParameterizedType p) {
            Class<?> raw = (Class<?>) p.getRawType();
            return raw.getName() + "<" + Arrays.stream(p.getActualTypeArguments()).map(JdkIndex::type).collect(Collectors.joining(",")) + ">";
        }
        if (t instanceof GenericArrayType g) return type(g.getGenericComponentType()) + "[]";
        if (t instanceof TypeVariable<?> v) return v.getName();
        if (t instanceof WildcardType w) {
            if (w.getLowerBounds().length > 0) return "? super " + type(w.getLowerBounds()[0]);
            Type[] up = w.getUpperBounds();
            return up.length == 0 || up[0] == Object.class ? "?" : "? extends " + type(up[0]);
        }
        return t.getTypeName();
    }

    static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\') b.append('\\').append(ch);
            else if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
            else b.append(ch);
        }
        return b.append('"').toString();
    }
}
