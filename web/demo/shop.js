// Northwind Outfitters demo shop: product data, cart (localStorage), header cart count and
// the small behaviours of each page. Every page sets <body data-page="…">.

export const products = [
  {
    id: 'summit-tent',
    name: 'Summit 2 Tent',
    category: 'Camping',
    price: 32900,
    rating: 4.7,
    reviews: 212,
    featured: true,
    image: 'img/tent.svg',
    description:
      'A freestanding two-person tent that pitches in four minutes and shrugs off spring storms.',
    features: [
      'Two doors, two vestibules',
      'Packed weight 1.6 kg',
      'Colour-coded aluminium poles',
      'Fully taped 20D ripstop fly',
    ],
  },
  {
    id: 'ridge-pack',
    name: 'Ridge 40 Backpack',
    category: 'Packs',
    price: 14900,
    rating: 4.8,
    reviews: 341,
    featured: true,
    image: 'img/pack.svg',
    sizes: ['S/M', 'M/L'],
    description:
      'Our best-selling pack for long day hikes and light overnighters, with a ventilated, adjustable back.',
    features: [
      '40 litres',
      'Hip-belt pockets and hydration sleeve',
      'Recycled 210D nylon',
      'Integrated rain cover',
    ],
  },
  {
    id: 'storm-jacket',
    name: 'Storm Shell Jacket',
    category: 'Clothing',
    price: 21900,
    rating: 4.6,
    reviews: 187,
    featured: true,
    image: 'img/jacket.svg',
    sizes: ['XS', 'S', 'M', 'L', 'XL'],
    description:
      'A three-layer waterproof, breathable shell with a helmet-compatible hood and pit zips.',
    features: [
      '20,000 mm waterproof rating',
      'Pit zips for venting',
      'Packs into its own pocket',
      'PFC-free water repellency',
    ],
  },
  {
    id: 'cascade-boots',
    name: 'Cascade Trail Boots',
    category: 'Footwear',
    price: 17900,
    rating: 4.5,
    reviews: 264,
    featured: true,
    image: 'img/boots.svg',
    sizes: ['7', '8', '9', '10', '11', '12'],
    description:
      'Mid-cut leather hiking boots with a grippy lugged sole and a waterproof membrane.',
    features: [
      'Full-grain leather upper',
      'Waterproof, breathable lining',
      'Vibram® outsole',
      'Resoleable',
    ],
  },
  {
    id: 'aurora-bag',
    name: 'Aurora −5° Sleeping Bag',
    category: 'Camping',
    price: 25900,
    rating: 4.9,
    reviews: 98,
    image: 'img/bag.svg',
    sizes: ['Regular', 'Long'],
    description: 'Responsibly sourced 650-fill down keeps you warm on cold shoulder-season nights.',
    features: [
      'Comfort rating −5 °C',
      '650-fill RDS down',
      'Draft collar and zip baffle',
      'Compression sack included',
    ],
  },
  {
    id: 'beam-headlamp',
    name: 'Beam 400 Headlamp',
    category: 'Accessories',
    price: 4900,
    rating: 4.4,
    reviews: 410,
    image: 'img/headlamp.svg',
    description: 'A 400-lumen rechargeable headlamp with a red night mode and a lock-out switch.',
    features: ['400 lumens, 90 m beam', 'USB-C rechargeable', 'Red light mode', 'IPX7 waterproof'],
  },
  {
    id: 'flask-bottle',
    name: 'Flask 750 Bottle',
    category: 'Accessories',
    price: 3200,
    rating: 4.7,
    reviews: 530,
    image: 'img/bottle.svg',
    description: 'Double-walled steel bottle that keeps drinks cold for a day and hot until lunch.',
    features: ['750 ml', 'Cold 24 h, hot 12 h', 'Leak-proof lid', 'Dishwasher safe'],
  },
  {
    id: 'ember-stove',
    name: 'Ember Camp Stove',
    category: 'Camping',
    price: 8900,
    rating: 4.6,
    reviews: 152,
    image: 'img/stove.svg',
    description:
      'A compact canister stove that boils a litre of water in three and a half minutes.',
    features: ['Boils 1 l in 3.5 min', 'Piezo igniter', 'Folding pot supports', 'Weighs 83 g'],
  },
];

export const DELIVERY = { standard: 695, express: 1495, pickup: 0 };
const FREE_SHIPPING_FROM = 7500;
const CART_KEY = 'nw-cart';
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const $ = (sel) => document.querySelector(sel);

export const formatPrice = (cents) => money.format(cents / 100);
export const findProduct = (id) => products.find((p) => p.id === id);

export function getCart() {
  try {
    const cart = JSON.parse(localStorage.getItem(CART_KEY));
    return Array.isArray(cart) ? cart.filter((l) => findProduct(l.id) && l.qty > 0) : [];
  } catch {
    return [];
  }
}
function saveCart(cart) {
  try {
    localStorage.setItem(CART_KEY, JSON.stringify(cart));
  } catch {
    /* storage unavailable */
  }
  document.dispatchEvent(new Event('cart:change'));
}
export function addToCart(id, qty = 1, size = '') {
  const cart = getCart();
  const line = cart.find((l) => l.id === id && l.size === size);
  if (line) line.qty = Math.min(99, line.qty + qty);
  else cart.push({ id, size, qty });
  saveCart(cart);
}
export function setQuantity(index, qty) {
  const cart = getCart();
  if (!cart[index]) return;
  if (qty > 0) cart[index].qty = Math.min(99, qty);
  else cart.splice(index, 1);
  saveCart(cart);
}
export const clearCart = () => saveCart([]);

function updateCartCount() {
  const n = getCart().reduce((sum, l) => sum + l.qty, 0);
  document.querySelectorAll('.cart-count').forEach((el) => {
    el.textContent = n;
  });
  $('.cart-link')?.setAttribute('aria-label', `Cart, ${n} item${n === 1 ? '' : 's'}`);
}

function productCard(p) {
  const li = document.createElement('li');
  li.className = 'card';
  li.innerHTML = `<a class="card-link" href="product.html?id=${p.id}">
    <img src="${p.image}" alt="" width="400" height="300">
    <span class="card-body"><span class="eyebrow">${p.category}</span>
      <span class="card-title">${p.name}</span><span class="price">${formatPrice(p.price)}</span></span></a>`;
  return li;
}

const stars = (r) => '★'.repeat(Math.round(r)) + '☆'.repeat(5 - Math.round(r));

const pages = {
  home() {
    $('#featured-grid').replaceChildren(...products.filter((p) => p.featured).map(productCard));
  },

  products() {
    const [search, category, sort] = ['#search', '#category', '#sort'].map($);
    for (const c of new Set(products.map((p) => p.category))) category.add(new Option(c, c));
    category.value = new URLSearchParams(location.search).get('category') || '';
    const render = () => {
      const q = search.value.trim().toLowerCase();
      const list = products.filter(
        (p) =>
          (!category.value || p.category === category.value) &&
          (!q || `${p.name} ${p.category} ${p.description}`.toLowerCase().includes(q)),
      );
      if (sort.value === 'price-asc') list.sort((a, b) => a.price - b.price);
      if (sort.value === 'price-desc') list.sort((a, b) => b.price - a.price);
      if (sort.value === 'rating') list.sort((a, b) => b.rating - a.rating);
      $('#product-grid').replaceChildren(...list.map(productCard));
      $('#result-count').textContent = `${list.length} product${list.length === 1 ? '' : 's'}`;
    };
    for (const el of [search, category, sort]) el.addEventListener('input', render);
    render();
  },

  product() {
    const p = findProduct(new URLSearchParams(location.search).get('id'));
    if (!p) {
      $('#not-found').hidden = false;
      document.title = 'Product not found — Northwind Outfitters';
      return;
    }
    document.title = `${p.name} — Northwind Outfitters`;
    $('#crumb-name').textContent = p.name;
    $('#product-category').textContent = p.category;
    $('#product-name').textContent = p.name;
    $('#product-price').textContent = formatPrice(p.price);
    $('#product-rating').innerHTML =
      `${stars(p.rating)} <span>${p.rating} (${p.reviews} reviews)</span>`;
    $('#product-rating').setAttribute(
      'aria-label',
      `Rated ${p.rating} out of 5 from ${p.reviews} reviews`,
    );
    $('#product-description').textContent = p.description;
    Object.assign($('#product-image'), { src: p.image, alt: p.name });
    $('#product-features').replaceChildren(
      ...p.features.map((f) => Object.assign(document.createElement('li'), { textContent: f })),
    );
    const size = $('#size');
    for (const s of p.sizes || []) size.add(new Option(s, s));
    $('#size-field').hidden = !p.sizes;
    $('#add-to-cart').addEventListener('click', () => {
      const qty = Math.max(1, Math.min(10, parseInt($('#quantity').value, 10) || 1));
      addToCart(p.id, qty, p.sizes ? size.value : '');
      $('#cart-status').innerHTML =
        `Added ${qty} × ${p.name} to your cart. <a href="checkout.html">Go to checkout</a>`;
    });
    $('#product').hidden = false;
  },

  checkout() {
    const form = $('#checkout-form');
    const render = () => {
      const cart = getCart();
      $('#order-items').replaceChildren(
        ...cart.map((l, i) => {
          const p = findProduct(l.id);
          const li = document.createElement('li');
          li.className = 'line';
          li.innerHTML = `<img src="${p.image}" alt="" width="56" height="42">
          <div><p><strong>${p.name}</strong>${l.size ? ` <span class="muted">· ${l.size}</span>` : ''}</p>
            <span class="qty"><button type="button" data-index="${i}" data-delta="-1" aria-label="One fewer ${p.name}">−</button>
            <span>${l.qty}</span><button type="button" data-index="${i}" data-delta="1" aria-label="One more ${p.name}">+</button></span></div>
          <span>${formatPrice(p.price * l.qty)}</span>`;
          return li;
        }),
      );
      const subtotal = cart.reduce((sum, l) => sum + findProduct(l.id).price * l.qty, 0);
      const method = form.elements.delivery.value || 'standard';
      const shipping =
        method === 'standard' && subtotal >= FREE_SHIPPING_FROM ? 0 : DELIVERY[method];
      $('#cart-empty').hidden = cart.length > 0;
      $('#order-subtotal').textContent = formatPrice(subtotal);
      $('#order-shipping').textContent = shipping ? formatPrice(shipping) : 'Free';
      $('#order-total').textContent = formatPrice(subtotal + shipping);
      form.elements.cart.value = cart
        .map((l) => `${l.qty} x ${l.id}${l.size ? ` (${l.size})` : ''}`)
        .join(', ');
      form.elements.total.value = ((subtotal + shipping) / 100).toFixed(2);
    };
    $('#order-items').addEventListener('click', (e) => {
      const b = e.target.closest('button[data-index]');
      if (!b) return;
      const line = getCart()[b.dataset.index];
      if (line) setQuantity(Number(b.dataset.index), line.qty + Number(b.dataset.delta));
    });
    form.addEventListener('change', (e) => {
      if (e.target.name === 'delivery') render();
    });
    document.addEventListener('cart:change', render);
    $('#send-code').addEventListener('click', () => {
      $('#code-status').textContent = 'We sent a new 6-digit code to your phone ending in 42.';
    });
    render();
  },

  signin() {
    const pw = $('#password');
    $('#toggle-password').addEventListener('click', (e) => {
      const show = pw.type === 'password';
      pw.type = show ? 'text' : 'password';
      e.currentTarget.textContent = show ? 'Hide' : 'Show';
      e.currentTarget.setAttribute('aria-pressed', String(show));
    });
  },

  account() {
    $('#delete-account').addEventListener('click', () => {
      $('#delete-status').textContent =
        'We have emailed you a link to confirm that you want to close your account.';
    });
  },

  thanks() {
    const form = new URLSearchParams(location.search).get('form') || '';
    const [title, message] = {
      checkout: [
        'Thank you for your order!',
        'We have emailed your receipt. Your gear is being packed.',
      ],
      signin: ['Welcome back!', 'You are signed in.'],
      account: ['Details saved', 'Your personal details have been updated.'],
      newsletter: ['You are subscribed', 'Look out for trail notes in your inbox once a month.'],
    }[form] || ['Thanks!', 'We have received your form.'];
    document.title = `${title} — Northwind Outfitters`;
    $('#thanks-title').textContent = title;
    $('#thanks-message').textContent = message;
    if (form === 'checkout') {
      $('#order-number').textContent =
        `Order number NW-${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
      clearCart();
    }
  },
};

// The footer's "Browse with you" link is handled by /cobrowse.js; without it, stay put.
document.addEventListener('click', (e) => {
  if (/** @type {Element} */ (e.target).closest('[data-cobrowse-start]') && !window.Cobrowse)
    e.preventDefault();
});
document.addEventListener('cart:change', updateCartCount);
window.addEventListener('storage', (e) => {
  if (e.key === CART_KEY) document.dispatchEvent(new Event('cart:change'));
});
updateCartCount();
pages[document.body.dataset.page]?.();
