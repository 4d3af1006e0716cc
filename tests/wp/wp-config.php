<?php
/**
 * wp-config.php of the test WordPress started by tests/wordpress.py (copied into the tree,
 * replacing Debian's, which looks in /etc/wordpress).
 *
 * One tree serves three single sites, like ICESCO's language sites: /en/, /fr/ and /ar/.
 * The site is ICESCO_WP_SITE (PHP CLI: tests/wp/tool.php) or the first path segment of
 * REQUEST_URI (web: php -S with tests/wp/router.php); each site has its own table prefix
 * (en_, fr_, ar_) in one database. Everything else comes from the JSON file named below
 * (written by tests/wordpress.py): base URL, database socket and password, switch folder.
 */

define( 'ICESCO_TEST_CONFIG', '@ICESCO_TEST_CONFIG@' );

$icesco_config = json_decode( (string) file_get_contents( ICESCO_TEST_CONFIG ), true );

if ( PHP_SAPI === 'cli' ) {
	$icesco_site = (string) getenv( 'ICESCO_WP_SITE' );
} else {
	$icesco_path = (string) parse_url( $_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH );
	$icesco_site = explode( '/', trim( $icesco_path, '/' ) )[0];
}
if ( ! in_array( $icesco_site, $icesco_config['sites'], true ) ) {
	if ( PHP_SAPI === 'cli' ) {
		fwrite( STDERR, 'wp-config.php: ICESCO_WP_SITE must be one of ' . implode( ', ', $icesco_config['sites'] ) . "\n" );
		exit( 2 );
	}
	http_response_code( 404 );
	header( 'Content-Type: text/plain; charset=UTF-8' );
	echo "No such site.\n";
	exit;
}

define( 'ICESCO_WP_SITE', $icesco_site );
define( 'ICESCO_TEST_SWITCHES', $icesco_config['switches'] );

define( 'WP_HOME', $icesco_config['base_url'] . '/' . $icesco_site );
define( 'WP_SITEURL', $icesco_config['base_url'] . '/' . $icesco_site );

define( 'DB_NAME', $icesco_config['db_name'] );
define( 'DB_USER', $icesco_config['db_user'] );
define( 'DB_PASSWORD', $icesco_config['db_password'] );
define( 'DB_HOST', 'localhost:' . $icesco_config['db_socket'] );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
$table_prefix = $icesco_site . '_';

// Fixed salts: a test site, and stable cookies/nonces across processes.
define( 'AUTH_KEY', 'icesco-test auth key' );
define( 'SECURE_AUTH_KEY', 'icesco-test secure auth key' );
define( 'LOGGED_IN_KEY', 'icesco-test logged in key' );
define( 'NONCE_KEY', 'icesco-test nonce key' );
define( 'AUTH_SALT', 'icesco-test auth salt' );
define( 'SECURE_AUTH_SALT', 'icesco-test secure auth salt' );
define( 'LOGGED_IN_SALT', 'icesco-test logged in salt' );
define( 'NONCE_SALT', 'icesco-test nonce salt' );

define( 'WP_DEBUG', false );
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_AUTO_UPDATE_CORE', false );
define( 'DISALLOW_FILE_MODS', true );
define( 'WP_CONTENT_DIR', __DIR__ . '/wp-content' );
define( 'WP_DEFAULT_THEME', 'twentytwentyone' );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );

// No outgoing HTTP at all, not even to 127.0.0.1 (wp_install() probes its own permalinks,
// pingbacks, oEmbed discovery...): a hook seeded before WordPress loads its plugin API.
$GLOBALS['wp_filter']['pre_http_request'][1][] = array(
	'function'      => static function () {
		return new WP_Error( 'http_request_blocked', 'icesco test site: no outgoing HTTP' );
	},
	'accepted_args' => 0,
);

unset( $icesco_config, $icesco_site, $icesco_path );

if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}

require_once ABSPATH . 'wp-settings.php';
