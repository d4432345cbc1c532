package samples;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Predicate;

/** A small warehouse inventory: items, categories and a few queries over them. */
public class Inventory {

    /** What kind of goods an item is. */
    enum Category {
        TOOLS("T"), FOOD("F"), TOYS("Y");

        private final String code;

        Category(String code) {
            this.code = code;
        }

        String code() {
            return code;
        }
    }

    /** One stock line. */
    record Item(String name, Category category, int quantity, double unitPrice) {
        double value() {
            return quantity * unitPrice;
        }
    }

    /** A typed pair, used for the cheapest/dearest report. */
    static final class Pair<A, B> {
        final A first;
        final B second;

        Pair(A first, B second) {
            this.first = first;
            this.second = second;
        }
    }

    private final List<Item> items = new ArrayList<>();

    public void add(String name, Category category, int quantity, double unitPrice) {
        if (quantity < 0) {
            throw new IllegalArgumentException("negative quantity for " + name);
        }
        items.add(new Item(name, category, quantity, unitPrice));
    }

    public List<Item> select(Predicate<Item> filter) {
        List<Item> out = new ArrayList<>();
        for (Item item : items) {
            if (filter.test(item)) {
                out.add(item);
            }
        }
        return out;
    }

    public Map<Category, Double> valueByCategory() {
        Map<Category, Double> totals = new TreeMap<>();
        items.forEach(item -> totals.merge(item.category(), item.value(), Double::sum));
        return totals;
    }

    public Optional<Pair<Item, Item>> extremes() {
        if (items.isEmpty()) {
            return Optional.empty();
        }
        Comparator<Item> byPrice = Comparator.comparingDouble(Item::unitPrice);
        Item cheapest = items.stream().min(byPrice).orElseThrow();
        Item dearest = items.stream().max(byPrice).orElseThrow();
        return Optional.of(new Pair<>(cheapest, dearest));
    }

    public static void main(String[] args) {
        Inventory inventory = new Inventory();
        inventory.add("hammer", Category.TOOLS, 12, 9.5);
        inventory.add("apples", Category.FOOD, 140, 0.3);
        inventory.add("kite", Category.TOYS, 3, 24.0);

        List<Item> lowStock = inventory.select(item -> item.quantity() < 10);
        System.out.println("low stock: " + lowStock.size());

        inventory.valueByCategory().forEach((category, total) ->
            System.out.printf("%s (%s): %.2f%n", category, category.code(), total));

        inventory.extremes().ifPresent(pair ->
            System.out.println("cheapest " + pair.first.name() + ", dearest " + pair.second.name()));
    }
}
