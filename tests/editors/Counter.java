import java.util.ArrayList;
import java.util.List;

public class Counter {
    private int total;
    private final List<String> names = new ArrayList<>();

    public void add(String name) {
        names.add(name);
        total += 1;
    }

    public int count() {
        return this.tot;
    }
}
